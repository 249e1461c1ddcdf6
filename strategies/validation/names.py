"""Verdicts on single identifiers, shared by the AST walker and the RestrictedPython policy.

Every check runs on the NFKC-normalised name, which is how Python itself reads
identifiers: written in fullwidth or script letters (U+FF45..., U+212F), ``exec``
and ``eval`` are still ``exec`` and ``eval`` to the interpreter.
"""

from __future__ import annotations

import unicodedata

from strategies.validation.allowlists import (
    ALLOWED_MODULES,
    FORBIDDEN_ATTRIBUTES,
    FORBIDDEN_NAMES,
    IMPORT_NAMES,
)

# (problem code, message)
Finding = tuple[str, str]


def normalise(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def allowed_modules_text() -> str:
    return ", ".join(sorted(ALLOWED_MODULES))


def check_identifier(name: str, what: str = "name") -> Finding | None:
    """A name the code binds or reads (variable, function, class, argument, keyword)."""
    name = normalise(name)
    if name in IMPORT_NAMES:
        return (
            "forbidden_import",
            f'"{name}" is not allowed: the only imports are '
            f"import statements of {allowed_modules_text()}",
        )
    # A lone "_" is the conventional throw-away variable and reaches nothing.
    if name.startswith("_") and name != "_":
        return (
            "private_name",
            f'the {what} "{name}" is not allowed: names starting with '
            '"_" are reserved for the sandbox',
        )
    if name in FORBIDDEN_NAMES:
        return ("forbidden_name", f'"{name}" is not allowed: {FORBIDDEN_NAMES[name]}')
    return None


def check_attribute(name: str) -> Finding | None:
    """An attribute name, whether written as ``x.name`` or passed to getattr()."""
    name = normalise(name)
    if name.startswith("_"):
        return (
            "private_name",
            f'the attribute "{name}" is not allowed: attributes starting '
            'with "_" are internals of Python or of the platform',
        )
    if name in FORBIDDEN_ATTRIBUTES:
        return (
            "forbidden_attribute",
            f'the attribute "{name}" is not allowed: {FORBIDDEN_ATTRIBUTES[name]}',
        )
    return None
