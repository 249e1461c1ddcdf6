"""HTML forms of the strategies app: parse input only; the services hold the rules."""

from __future__ import annotations

from django import forms

from strategies.validation import MAX_CODE_BYTES


class StrategyForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    shared = forms.BooleanField(
        required=False,
        help_text="Every signed-in user can read and clone it; only you can edit it.",
    )
    # strip=False: indentation and trailing newlines are part of Python code.
    code = forms.CharField(
        strip=False,
        max_length=MAX_CODE_BYTES,
        widget=forms.Textarea(
            # data-code-editor: static/js/strategy-editor.js puts CodeMirror over this textarea,
            # which stays the form field (kept in sync), so the form also works without JS.
            attrs={
                "rows": 30,
                "spellcheck": "false",
                "class": "code-editor",
                "wrap": "off",
                "data-code-editor": "",
            }
        ),
    )


class CloneForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)


class CodeCheckForm(forms.Form):
    """The editor's Validate button: the code only (an empty file is the validator's to judge)."""

    code = forms.CharField(strip=False, required=False, max_length=MAX_CODE_BYTES)
