"""A finished backtest's equity curve as compact arrays, and back to the API's JSON.

Layout (`BacktestResult.timestamps`, `.equity`, `.drawdown`: one bytea each, no header): N
little-endian 8-byte values, the same N in all three, so N = len(bytes) // 8.

    timestamps  int64, nanoseconds since the epoch (UTC): the bar codec's unit
    equity      float64; NaN where the JSON has null (the engine writes null for a non-finite value)
    drawdown    float64; NaN likewise

Encoded from the arrays the sandbox hands over (backtesting/sandbox/curve_wire.RunCurve,
checked there), decoded to the engine's JSON form (`BacktestResult.to_dict()["equity_curve"]`:
timestamps as "YYYY-MM-DDTHH:MM:SSZ", numbers or null), so the equity API answers the same JSON
it answered when the curve was one JSON document on the row (2,520 points: 60 KB instead of
about 150 KB of JSON).
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from backtesting.engine.result import iso_times, json_floats
from backtesting.sandbox.curve_wire import RunCurve

CURVE_SERIES = ("equity", "drawdown")


class CurveArrays(TypedDict):
    # A BinaryField reads back as memoryview on PostgreSQL, bytes elsewhere.
    timestamps: bytes | memoryview
    equity: bytes | memoryview
    drawdown: bytes | memoryview


def curve_encode(curve: RunCurve) -> CurveArrays:
    """The stored arrays of a run's curve (its timestamps, equity and drawdown).

    Raises ValueError for series whose lengths differ (nothing else can be out of shape: the
    RunCurve was checked where it entered the worker).
    """
    stamps = np.asarray(curve.timestamps, dtype="<i8")
    arrays: dict[str, bytes] = {"timestamps": stamps.tobytes()}
    for name in CURVE_SERIES:
        values = np.asarray(getattr(curve, name), dtype="<f8")
        if values.shape != stamps.shape:
            raise ValueError(f"curve {name} has {len(values)} points, timestamps {len(stamps)}")
        arrays[name] = values.tobytes()
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
