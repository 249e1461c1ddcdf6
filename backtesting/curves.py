"""A finished backtest's equity curve as compact arrays, and back to the API's JSON.

Layout (`BacktestResult.timestamps`, `.equity`, `.drawdown`: one bytea each, no header): N
little-endian 8-byte values, the same N in all three, so N = len(bytes) // 8.

    timestamps  int64, nanoseconds since the epoch (UTC): the bar codec's unit
    equity      float64; NaN where the JSON has null (the engine writes null for a non-finite value)
    drawdown    float64; NaN likewise

The JSON form is the engine's (`BacktestResult.to_dict()["equity_curve"]`): timestamps as
"YYYY-MM-DDTHH:MM:SSZ", numbers or null. Encoding refuses anything that would not decode to
exactly what it was given, so the equity API answers the same JSON it answered when the curve
was one JSON document on the row (2,520 points: 60 KB instead of about 150 KB of JSON).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from backtesting.engine.result import iso_times, json_floats

CURVE_SERIES = ("equity", "drawdown")


class CurveArrays(TypedDict):
    # A BinaryField reads back as memoryview on PostgreSQL, bytes elsewhere.
    timestamps: bytes | memoryview
    equity: bytes | memoryview
    drawdown: bytes | memoryview


def curve_encode(curve: Mapping[str, Any]) -> CurveArrays:
    """The arrays of a JSON curve ({"timestamps", "equity", "drawdown"}; other keys ignored).

    Raises KeyError for a missing series, ValueError or TypeError for a value that would not
    come back unchanged (a timestamp not in the engine's format, a non-number, unequal lengths).
    """
    stamps = _timestamps(curve["timestamps"])
    arrays: dict[str, bytes] = {"timestamps": stamps.astype("<i8").tobytes()}
    for name in CURVE_SERIES:
        values = _floats(curve[name], name)
        if len(values) != len(stamps):
            raise ValueError(f"curve {name} has {len(values)} points, timestamps {len(stamps)}")
        arrays[name] = values.astype("<f8").tobytes()
    return CurveArrays(
        timestamps=arrays["timestamps"], equity=arrays["equity"], drawdown=arrays["drawdown"]
    )


def curve_decode(arrays: CurveArrays) -> dict[str, list[Any]]:
    """The engine's JSON curve of curve_encode's arrays."""
    return {
        "timestamps": iso_times(np.frombuffer(bytes(arrays["timestamps"]), dtype="<i8")),
        "equity": json_floats(np.frombuffer(bytes(arrays["equity"]), dtype="<f8")),
        "drawdown": json_floats(np.frombuffer(bytes(arrays["drawdown"]), dtype="<f8")),
    }


def _timestamps(values: Sequence[Any]) -> np.ndarray:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError("curve timestamps are not a list of text")
    # numpy parses ISO text without the zone; formatting back must give the very same text.
    stamps = np.array([v.removesuffix("Z") for v in values], dtype="datetime64[ns]")
    ns = stamps.astype(np.int64)
    if iso_times(ns) != values:
        raise ValueError("curve timestamps are not in the engine's format")
    return ns


def _floats(values: Sequence[Any], name: str) -> np.ndarray:
    if not isinstance(values, list):
        raise TypeError(f"curve {name} is not a list")
    for v in values:
        # NaN stands for null, so a NaN or infinity given as a number has no encoding of its own.
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
        ):
            raise ValueError(f"curve {name} holds {v!r}, not a finite number or null")
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
