"""Stored XSS payloads: one per user-supplied text, each with its own marker, planted in the
victim's objects the way the text would be stored."""

from __future__ import annotations

from typing import Any

from backtesting.marketdata.models import Instrument
from backtesting.models import Backtest
from backtesting.optimization.models import Optimization
from strategies.models import Strategy
from strategies.services import strategy_update


def payload(field: str) -> str:
    """Markup that runs script if rendered unescaped: a script element, an event handler on
    an element, and an attribute breakout; `xss_<field>` names where it came from."""
    return (f"<script>xss_{field}()</script><img src=x onerror=xss_{field}()>"
            f"\"'><svg onload=xss_{field}()>")  # fmt: skip


def raw_markers(field: str) -> list[bytes]:
    """What must never appear in an HTML page: the payload's elements, unescaped."""
    return [f"<script>xss_{field}".encode(), f"<img src=x onerror=xss_{field}".encode(),
            f"<svg onload=xss_{field}".encode()]  # fmt: skip


def escaped_marker(field: str) -> bytes:
    """What a page showing the text shows: the payload escaped by the template."""
    return f"&lt;script&gt;xss_{field}()".encode()


FIELDS = [
    "strategy_name", "strategy_description", "strategy_code", "parameter_description",
    "display_name", "error_message", "parameter_value", "constraint", "webhook_url",
    "instrument_name",
]  # fmt: skip


def plant(user: Any, strategy: Strategy, backtest: Backtest, optimization: Optimization) -> None:
    """Every payload into the victim's objects (rows written as the services would store
    the text; the validation in front of each is not what is under test here)."""
    Strategy.objects.filter(pk=strategy.pk).update(
        name=payload("strategy_name")[:100], description=payload("strategy_description")
    )
    # Versions are immutable: the payloads come in a new one, as the editor would save it.
    latest = strategy.versions.order_by("-number").first()
    assert latest is not None
    described = f"description={payload('parameter_description')!r}"
    code = latest.code.replace('description="Fast SMA period (bars)"', described, 1)
    strategy_update(strategy=strategy, user=user, code=f"# {payload('strategy_code')}\n{code}")
    type(user).objects.filter(pk=user.pk).update(display_name=payload("display_name")[:150])
    Backtest.objects.filter(pk=backtest.pk).update(
        error_message=payload("error_message"),
        error_code="strategy_error",
        parameters={**backtest.parameters, "fast": payload("parameter_value")},
    )
    Optimization.objects.filter(pk=optimization.pk).update(
        constraints=[f"fast < slow or '{payload('constraint')}'"]
    )
    user.webhooks.update(url=f"https://example.com/{payload('webhook_url')}")
    Instrument.objects.filter(symbol="AAA").update(name=payload("instrument_name")[:100])
