"""The Robustness box of the backtest detail page: start a test, open the finished ones."""

from __future__ import annotations

from typing import Any

from django import template

from backtesting.models import Backtest
from backtesting.robustness.selectors import robustness_list

register = template.Library()

RECENT_RUNS = 20


@register.inclusion_tag("robustness/_box.html")
def robustness_box(backtest: Backtest, user: Any, can_run: bool) -> dict[str, Any]:
    # One query, ids and labels only: the box lists runs, it never loads their results.
    runs = list(robustness_list(user=user, backtest=backtest)[:RECENT_RUNS])
    return {
        "backtest": backtest,
        "runs": runs,
        "can_run": can_run,
    }
