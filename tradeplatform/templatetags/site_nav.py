"""The header's current section, for aria-current on its links (templates/base.html)."""

from __future__ import annotations

from django import template

register = template.Library()

# URL prefix -> section; the first match wins, so "/" (the dashboard) comes last.
_SECTIONS = (
    ("/strategies/", "strategies"),
    ("/backtests/", "backtests"),
    ("/marketdata/", "marketdata"),
    ("/research/", "research"),
    ("/accounts/", "account"),
    ("/admin/", "admin"),
)


@register.filter
def site_section(path: str) -> str:
    """The header section a request path belongs to: "dashboard" for "/", "" for none."""
    if path == "/":
        return "dashboard"
    return next((section for prefix, section in _SECTIONS if path.startswith(prefix)), "")
