"""A single run's equity curve between the jailed child and the worker, as arrays.

As JSON numbers the curve was two thirds of a ten-year daily run's result line (236 of 385 KB:
2,520 ISO timestamps and four series of 2,520 numbers): about 4 ms of the child's CPU to format
and encode and 3 ms of the worker's to parse, per job. It crosses the pipe as base64 of the
little-endian arrays instead (the layout of backtesting/curves.py and of the indicators):

    {"timestamps": b64(<i8 * N), "equity": b64(<f8 * N), "cash": ..., "exposure": ...,
     "drawdown": ...}

The worker checks the shape again (the child ran next to user code) and keeps the arrays
(RunCurve): every store of a curve (a backtest's result, a sweep's best run, a walk-forward
window) writes arrays, so turning 2,520 points into the engine's JSON lists and parsing them
back, which cost a ten-year daily job about 8 ms of the worker's CPU, is left to the one who
wants the JSON (`RunCurve.to_json()`, exactly `BacktestResult.to_dict()["equity_curve"]`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from backtesting.engine import BacktestResult
from backtesting.engine.result import CURVE_FIELDS, iso_times, json_floats
from backtesting.sandbox.errors import InvalidOutputError

CURVE_KEYS: Final = ("timestamps", *CURVE_FIELDS)


@dataclass(frozen=True, eq=False)
class RunCurve:
    """A run's curve as arrays: int64 nanosecond timestamps, increasing, and the float64
    CURVE_FIELDS of the same length with NaN for every non-finite value (the JSON's null)."""

    timestamps: np.ndarray
    equity: np.ndarray
    cash: np.ndarray
    exposure: np.ndarray
    drawdown: np.ndarray

    def to_json(self) -> dict[str, list[Any]]:
        """The engine's JSON form: ISO times, numbers, null for NaN."""
        return {
            "timestamps": iso_times(self.timestamps),
            **{name: json_floats(getattr(self, name)) for name in CURVE_FIELDS},
        }


def _nan_if_not_finite(values: Any) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def curve_wire(run: BacktestResult) -> dict[str, str]:
    """The child's form of the run's curve."""
    wire = {"timestamps": b64_array(np.asarray(run.timestamps).astype("<i8"))}
    for name in CURVE_FIELDS:
        wire[name] = b64_array(np.asarray(getattr(run, name), dtype=np.float64).astype("<f8"))
    return wire


def curve_wire_size(wire: dict[str, str]) -> int:
    """Bytes the curve takes on the pipe (for the child's output budget)."""
    return sum(len(text) for text in wire.values())


def curve_from_wire(payload: Any) -> RunCurve:
    """The RunCurve of curve_wire's form; InvalidOutputError when out of shape."""
    if not isinstance(payload, dict) or set(payload) != set(CURVE_KEYS):
        raise InvalidOutputError("The result's equity curve is out of shape.")
    stamps = np.frombuffer(decoded_array_bytes(payload["timestamps"], "curve"), dtype="<i8")
    if len(stamps) > 1 and not (np.diff(stamps) > 0).all():
        raise InvalidOutputError("The result's curve times are not increasing.")
    series = []
    for name in CURVE_FIELDS:
        values = np.frombuffer(decoded_array_bytes(payload[name], "curve"), dtype="<f8")
        if len(values) != len(stamps):
            raise InvalidOutputError("The result's curve series differ in length.")
        series.append(_nan_if_not_finite(values))
    return RunCurve(stamps.astype(np.int64), *series)


def decoded_array_bytes(text: Any, what: str) -> bytes:
    """The bytes of one base64 array of 8-byte values from the child; `what` names the
    arrays in the error ("curve", "indicator")."""
    if not isinstance(text, str):
        raise InvalidOutputError(f"The result's {what} arrays are not text.")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidOutputError(f"The result's {what} arrays are not base64.") from None
    if len(raw) % 8:
        raise InvalidOutputError(f"The result's {what} arrays are not 8-byte values.")
    return raw


def b64_array(values: np.ndarray) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")
