"""The strategy's plotted indicators between the jailed child and the worker.

Bar-length float arrays would be ~20 bytes a value as JSON numbers; they cross the pipe as
base64 of little-endian float64 (the bytes backtesting/indicator_arrays.py stores):

    {"timestamps": b64(<i8 * N), "series": [{"name", "symbol", "values": b64(<f8 * N)}],
     "dropped": how many the child left out to stay within the output bound}

The child keeps only what fits beside the rest of the result in the pipe's byte limit and
drops the rest (the run stands without them); the worker checks every field again, since the
child ran next to user code.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from backtesting.engine.plotted import (
    MAX_INDICATOR_NAME_CHARS,
    MAX_PLOTTED_PER_SYMBOL,
    PlottedIndicators,
)
from backtesting.sandbox.bounds import storable
from backtesting.sandbox.curve_wire import b64_array, curve_wire_size, decoded_array_bytes
from backtesting.sandbox.errors import InvalidOutputError

# Beside the curve and the trades, indicators may take at most this much of the pipe.
MAX_INDICATOR_WIRE_BYTES = 12 * 1024 * 1024
# A generous upper estimate of the JSON a trade or order record takes.
RECORD_BYTES = 1024
RESERVED_BYTES = 256 * 1024  # statistics, the spec echo, the message's envelope


def indicators_wire(
    plotted: PlottedIndicators | None, result: dict[str, Any], limits: dict[str, Any]
) -> dict[str, Any] | None:
    """The child's form of `plotted`, keeping in order only the series that fit the budget.

    `result` has its curve in curve_wire's form."""
    if plotted is None or not plotted.series:
        return None
    rest = (
        curve_wire_size(result["equity_curve"])
        + RECORD_BYTES * (len(result["trades"]) + len(result["orders"]))
        + int(limits.get("log_bytes", 0)) * 6  # print() text, JSON-escaped at worst
        + RESERVED_BYTES
    )
    budget = min(MAX_INDICATOR_WIRE_BYTES, int(limits["output_bytes"]) - rest)
    per_array = _b64_length(8 * len(plotted.timestamps)) + 2 * MAX_INDICATOR_NAME_CHARS + 64
    fitting = max(0, budget // per_array - 1)  # one array's worth for the timestamps
    kept = plotted.series[:fitting]
    return {
        "timestamps": b64_array(plotted.timestamps.astype("<i8")),
        "series": [
            {
                "name": storable(p.name),
                "symbol": p.symbol,
                "values": b64_array(p.values.astype("<f8")),
            }
            for p in kept
        ],
        "dropped": len(plotted.series) - len(kept),
    }


def indicators_check(payload: Any, symbols: Collection[str] | None) -> None:
    """Raise InvalidOutputError unless `payload` is indicators_wire's shape with sound values."""
    if not isinstance(payload, dict) or set(payload) != {"timestamps", "series", "dropped"}:
        raise InvalidOutputError("The result's indicators are out of shape.")
    dropped, series = payload["dropped"], payload["series"]
    if not isinstance(dropped, int) or isinstance(dropped, bool) or not 0 <= dropped <= 2**31:
        raise InvalidOutputError("The result's dropped indicator count is invalid.")
    stamps = np.frombuffer(decoded_array_bytes(payload["timestamps"], "indicator"), dtype="<i8")
    if len(stamps) == 0 or (len(stamps) > 1 and not (np.diff(stamps) > 0).all()):
        raise InvalidOutputError("The result's indicator times are not increasing.")
    if not isinstance(series, list):
        raise InvalidOutputError("The result's indicators are out of shape.")
    counts: dict[str, int] = {}
    for item in series:
        _check_series(item, len(stamps), symbols)
        counts[item["symbol"]] = counts.get(item["symbol"], 0) + 1
        if counts[item["symbol"]] > MAX_PLOTTED_PER_SYMBOL:
            raise InvalidOutputError("The result has too many indicators for one symbol.")


def _check_series(item: Any, n: int, symbols: Collection[str] | None) -> None:
    if not isinstance(item, dict) or set(item) != {"name", "symbol", "values"}:
        raise InvalidOutputError("An indicator of the result is out of shape.")
    name, symbol = item["name"], item["symbol"]
    if not isinstance(name, str) or not 0 < len(name) <= MAX_INDICATOR_NAME_CHARS:
        raise InvalidOutputError("An indicator of the result has an invalid name.")
    if storable(name) != name:
        raise InvalidOutputError("An indicator's name holds characters that cannot be stored.")
    if not isinstance(symbol, str) or (symbols is not None and symbol not in symbols):
        raise InvalidOutputError("An indicator of the result has an unknown symbol.")
    if len(decoded_array_bytes(item["values"], "indicator")) != 8 * n:
        raise InvalidOutputError("An indicator of the result does not have one value per bar.")


def _b64_length(n_bytes: int) -> int:
    return 4 * -(-n_bytes // 3)
