"""A single run's equity curve crosses the pipe as arrays and stays arrays that give back the
engine's JSON."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestResult, BacktestSpec, Strategy, run_backtest
from backtesting.sandbox.curve_wire import CURVE_KEYS, curve_from_wire, curve_wire
from backtesting.sandbox.errors import InvalidOutputError
from tests.engine.helpers import random_bars


class _Swing(Strategy):
    def next(self) -> None:
        if self.bar_index % 10 == 0:
            self.buy(units=1)
        elif self.bar_index % 10 == 5:
            self.close()


def _run() -> BacktestResult:
    return run_backtest(BacktestSpec(), {"AAA": random_bars(60)}, _Swing)


def test_the_curve_comes_back_exactly_as_the_engine_writes_it() -> None:
    run = _run()
    back = curve_from_wire(curve_wire(run))
    assert back.to_json() == run.to_dict()["equity_curve"]
    assert back.timestamps.dtype == np.int64 and back.timestamps.tolist() == run.timestamps.tolist()
    for name in ("equity", "cash", "exposure", "drawdown"):
        assert getattr(back, name).tobytes() == np.asarray(getattr(run, name)).tobytes(), name


def test_non_finite_values_come_back_as_null_like_the_engines_json() -> None:
    run = _run()
    equity = np.array(run.equity, dtype=np.float64)
    equity[[3, 4, 5]] = [np.nan, np.inf, -np.inf]
    changed = dataclasses.replace(run, equity=equity)
    back = curve_from_wire(curve_wire(changed))
    # NaN in the arrays for every non-finite value, as the stored curve holds it.
    assert np.isnan(back.equity[3:6]).all() and np.isfinite(back.equity[6:]).all()
    assert back.to_json()["equity"][3:6] == [None, None, None]
    assert back.to_json() == changed.to_dict()["equity_curve"]


def test_an_empty_curve_round_trips() -> None:
    empty = curve_from_wire(dict.fromkeys(CURVE_KEYS, ""))
    assert empty.to_json() == {key: [] for key in CURVE_KEYS}


def _b64(values: Any, dtype: str) -> str:
    return base64.b64encode(np.asarray(values, dtype=dtype).tobytes()).decode()


def _wire(**changes: Any) -> dict[str, Any]:
    wire: dict[str, Any] = {"timestamps": _b64([1, 2, 3], "<i8")}
    wire.update({key: _b64([1.0, 2.0, 3.0], "<f8") for key in CURVE_KEYS[1:]})
    wire.update(changes)
    return {key: value for key, value in wire.items() if value is not None}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        _wire(cash=None),  # a series missing
        _wire(extra="AAAA"),  # a key too many
        _wire(equity=[1.0, 2.0, 3.0]),  # numbers, not arrays
        _wire(equity="not base64!"),
        _wire(equity=base64.b64encode(b"\x00" * 12).decode()),  # not whole 8-byte values
        _wire(drawdown=_b64([1.0, 2.0], "<f8")),  # shorter than the timestamps
        _wire(timestamps=_b64([1, 3, 2], "<i8")),  # time going back
        _wire(timestamps=_b64([1, 1, 2], "<i8")),  # or standing still
    ],
    ids=["not_a_dict", "missing", "extra", "lists", "not_base64", "ragged", "short",
         "backwards", "repeated"],
)  # fmt: skip
def test_a_curve_out_of_shape_is_invalid_output(payload: Any) -> None:
    assert curve_from_wire(_wire()).timestamps.tolist() == [1, 2, 3]  # the unchanged form passes
    with pytest.raises(InvalidOutputError):
        curve_from_wire(payload)
