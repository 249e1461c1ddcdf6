"""Filters that format a backtest's numbers in templates the way backtesting.metric_display does."""

from __future__ import annotations

import math
from typing import Any

from django import template

from backtesting.metric_display import MISSING, format_metric, format_money

register = template.Library()


@register.filter
def money(value: Any, currency: str = "USD") -> str:
    """12345.6 -> "$12,345.60"; None -> "—"."""
    return format_money(value, currency)


@register.filter
def metric(value: Any, key: str) -> str:
    """{{ value|metric:"total_return" }} -> "+16.85 %"."""
    return format_metric(key, value)


@register.filter
def percent_points(value: Any) -> str:
    """A number already in percent (a trade's net_pnl_pct): 3.5 -> "+3.50 %"."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    text = f"{abs(value):,.2f}"
    if text == "0.00":
        return "0.00 %"
    return f"{'-' if value < 0 else '+'}{text} %"


@register.filter
def tone(value: Any) -> str:
    """ "up" for a gain, "down" for a loss, "" otherwise: the class that colours a number."""
    if not isinstance(value, int | float) or not math.isfinite(value) or value == 0:
        return ""
    return "up" if value > 0 else "down"


@register.filter
def price(value: Any) -> str:
    """A price with as many decimals as it needs to be read (4 under 10, else 2)."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    return f"{value:,.4f}" if abs(value) < 10 else f"{value:,.2f}"


@register.filter
def units(value: Any) -> str:
    """A position size: whole numbers without decimals, fractions with up to 4."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return MISSING
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}".rstrip("0")
