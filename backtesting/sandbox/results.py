"""Checks on what the child returns before anyone trusts or stores it (it ran next to user code).

Every value the jobs app writes to a column is checked against that column here, at the
boundary, so a run whose result cannot be stored fails now with a message, instead of failing
the job's write later. A value the user chose (an order tag, the number of trades) that does
not fit is the user's error; a value the engine owns that does not fit is invalid output.
The limits mirror backtesting/models.py (Trade, Backtest) and are listed in docs/sandbox.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from backtesting.engine.strategy import MAX_TAG_LENGTH
from backtesting.sandbox.errors import InvalidOutputError, StrategyRuntimeError
from backtesting.sandbox.indicators import indicators_check

# Top-level keys of BacktestResult.to_dict() and the JSON types each must have.
RESULT_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "engine_version": str,
    "mode": str,
    "symbols": list,
    "spec": dict,
    "start_bar": int,
    "eval_start_bar": int,
    "equity_curve": dict,
    "trades": list,
    "orders": list,
    "statistics": dict,
}
# Keys a result may lack: the strategy's plotted indicators (backtesting/sandbox/indicators.py).
OPTIONAL_KEYS = frozenset({"indicators"})
# One limit for the engine (where the order is placed), this check and the Trade.tag column.
MAX_TAG_CHARS = MAX_TAG_LENGTH
MAX_TRADES = 100_000  # rows one backtest may add to the trades table
MAX_VERSION_CHARS = 32  # Backtest.engine_version varchar(32)
MAX_SPEC_ECHO_BYTES = 16 * 1024  # the spec echo without its params (engine-owned fields)
MAX_STATISTICS_BYTES = 64 * 1024  # Backtest.metrics
INT32_MAX = 2**31 - 1  # PositiveIntegerField / IntegerField


def _int_in(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _text_up_to(limit: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and len(v) <= limit


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _time(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


# The trade fields backtesting/results.py writes to Trade columns, except the tag (the
# user's, checked apart) and the symbol (checked against the bars sent).
TRADE_FIELDS: dict[str, Callable[[Any], bool]] = {
    "id": _int_in(0, INT32_MAX),
    "direction": lambda v: v in ("long", "short"),
    "size": _number,
    "entry_time": _time,
    "entry_price": _number,
    "exit_time": _optional(_time),
    "exit_price": _optional(_number),
    "gross_pnl": _optional(_number),
    "net_pnl": _optional(_number),
    "net_pnl_pct": _optional(_number),
    "fees": _optional(_number),
    "bars_held": _optional(_int_in(-INT32_MAX - 1, INT32_MAX)),
    "exit_reason": _optional(_text_up_to(32)),
    "open": lambda v: isinstance(v, bool),
}


def validate_result(
    result: Any,
    *,
    spec: Mapping[str, Any] | None = None,
    symbols: Collection[str] | None = None,
) -> dict[str, Any]:
    """Return the result when it has the engine's shape and every stored value fits.

    spec / symbols: what the worker sent, to check the echo and the trades against.
    Raises StrategyRuntimeError for a user-chosen value that cannot be stored, and
    InvalidOutputError for anything else out of shape.
    """
    _check_shape(result)
    _check_engine_fields(result, spec)
    trades = result["trades"]
    if len(trades) > MAX_TRADES:
        raise StrategyRuntimeError(
            f"The strategy made {len(trades):,} trades; a backtest can store at most "
            f"{MAX_TRADES:,} trades."
        )
    for position, trade in enumerate(trades, start=1):
        _check_trade(trade, position, symbols)
    for position, order in enumerate(result["orders"], start=1):
        if not isinstance(order, dict):
            raise InvalidOutputError(f"Order {position} is not an object.")
        _check_tag(order.get("tag"), f"order {position}")
    if "indicators" in result:
        indicators_check(result["indicators"], symbols)
    return result


def _check_shape(result: Any) -> None:
    if not isinstance(result, dict):
        raise InvalidOutputError("The result is not an object.")
    for key, expected in RESULT_SCHEMA.items():
        if key not in result:
            raise InvalidOutputError(f"The result lacks '{key}'.")
        if not isinstance(result[key], expected) or (
            isinstance(result[key], bool) and expected in (int, float)
        ):
            raise InvalidOutputError(f"The result's '{key}' has the wrong type.")
    if set(result) - set(RESULT_SCHEMA) - OPTIONAL_KEYS:
        raise InvalidOutputError("The result has unexpected keys.")


def _check_engine_fields(result: dict[str, Any], spec: Mapping[str, Any] | None) -> None:
    if len(result["engine_version"]) > MAX_VERSION_CHARS:
        raise InvalidOutputError("The result's engine version is too long.")
    if _json_size(result["statistics"]) > MAX_STATISTICS_BYTES:
        raise InvalidOutputError("The result's statistics are too large.")
    echo = result["spec"]
    # The params are the user's (bounded when the backtest was submitted): the echo may hold
    # exactly what was sent and nothing else; the rest of the spec is the engine's and small.
    if spec is not None and echo.get("params") != spec.get("params"):
        raise InvalidOutputError("The result's parameters differ from the ones sent.")
    if _json_size({k: v for k, v in echo.items() if k != "params"}) > MAX_SPEC_ECHO_BYTES:
        raise InvalidOutputError("The result's spec echo is too large.")


def _check_trade(trade: Any, position: int, symbols: Collection[str] | None) -> None:
    if not isinstance(trade, dict):
        raise InvalidOutputError(f"Trade {position} is not an object.")
    # The engine numbers trades from 1 as the user sees them; a bad id is reported below.
    number = trade.get("id") if TRADE_FIELDS["id"](trade.get("id")) else position
    _check_tag(trade.get("tag"), f"trade {number}")
    for name, fits in TRADE_FIELDS.items():
        if not fits(trade.get(name)):
            raise InvalidOutputError(f"Trade {position} has an invalid '{name}'.")
    symbol = trade.get("symbol")
    if not isinstance(symbol, str) or (symbols is not None and symbol not in symbols):
        raise InvalidOutputError(f"Trade {position} has an unknown symbol.")


def _check_tag(tag: Any, where: str) -> None:
    """An order tag is the user's text: say what is wrong with it and where."""
    if tag is None:
        return
    if not isinstance(tag, str):
        raise InvalidOutputError(f"The tag at {where} is not text.")
    if len(tag) > MAX_TAG_CHARS:
        raise StrategyRuntimeError(
            f"order tag longer than {MAX_TAG_CHARS} characters at {where} "
            f"({len(tag):,} characters); shorten the tag passed to buy()/sell()."
        )
    if "\x00" in tag:
        raise StrategyRuntimeError(f"order tag contains a NUL character at {where}.")
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        raise StrategyRuntimeError(
            f"order tag is not valid Unicode text at {where} (it contains a lone surrogate)."
        ) from None


def _json_size(value: Any) -> int:
    return len(json.dumps(value))
