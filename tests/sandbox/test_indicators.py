"""The strategy's plotted indicators cross from the jailed child to the worker as compact
arrays, within the pipe's byte bound, and the worker accepts only the shape it can store."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from backtesting.engine import BarSeries
from backtesting.engine import indicators as ta
from backtesting.engine.plotted import PlottedIndicator, PlottedIndicators
from backtesting.sandbox import SandboxError
from backtesting.sandbox.curve_wire import CURVE_KEYS
from backtesting.sandbox.indicators import indicators_wire
from backtesting.sandbox.results import validate_result
from tests.sandbox.conftest import SMA_CROSS
from tests.sandbox.test_result_bounds import engine_result, validate


def _floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8")


def test_the_childs_result_carries_each_sma_with_its_exact_values(
    run: Callable[..., dict[str, Any]], bars: dict[str, BarSeries]
) -> None:
    result = run(SMA_CROSS)
    sent = result["indicators"]
    assert [(s["name"], s["symbol"]) for s in sent["series"]] == [
        ("sma_fast", "AAA"), ("sma_slow", "AAA"),
    ]  # fmt: skip
    assert sent["dropped"] == 0
    close = bars["AAA"].close
    np.testing.assert_array_equal(_floats(sent["series"][0]["values"]), ta.sma(close, 10))
    np.testing.assert_array_equal(_floats(sent["series"][1]["values"]), ta.sma(close, 20))
    stamps = np.frombuffer(base64.b64decode(sent["timestamps"]), dtype="<i8")
    np.testing.assert_array_equal(stamps, bars["AAA"].timestamps)


def _plotted(n: int, count: int) -> PlottedIndicators:
    series = tuple(
        PlottedIndicator(f"line {k}", "AAA", np.arange(n, dtype=float)) for k in range(count)
    )
    return PlottedIndicators(np.arange(n, dtype=np.int64), series)


def test_what_would_not_fit_the_output_bound_is_dropped_and_counted() -> None:
    # A curve of 1,000 points on the wire: five arrays of 8,000 bytes, 10,668 in base64 each.
    curve = dict.fromkeys(CURVE_KEYS, "A" * 10_668)
    result = {"equity_curve": curve, "trades": [], "orders": []}
    roomy = indicators_wire(_plotted(1000, 3), result, {"output_bytes": 32 << 20, "log_bytes": 0})
    assert roomy is not None and len(roomy["series"]) == 3 and roomy["dropped"] == 0
    # Room for the curve, the reserve and the timestamps plus about one array of 1,000 bars.
    tight = 5 * 10_668 + 256 * 1024 + 2 * 11_000
    cut = indicators_wire(_plotted(1000, 3), result, {"output_bytes": tight, "log_bytes": 0})
    assert cut is not None and [s["name"] for s in cut["series"]] == ["line 0"]
    assert cut["dropped"] == 2
    assert validate({**engine_result(), "indicators": cut})["indicators"] == cut


def _wire() -> dict[str, Any]:
    payload = indicators_wire(_plotted(5, 2), {"equity_curve": {}, "trades": [], "orders": []},
                              {"output_bytes": 1 << 20})  # fmt: skip
    assert payload is not None
    return payload


def _broken(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    payload = copy.deepcopy(_wire())
    change(payload)
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        _broken(lambda p: p["series"][0].update(values=base64.b64encode(b"\0" * 32).decode())),
        _broken(lambda p: p["series"][0].update(values="not base64!")),
        _broken(lambda p: p["series"][0].update(symbol="ZZZ")),
        _broken(lambda p: p["series"][0].update(name="a\x00b")),
        _broken(lambda p: p["series"][0].update(name="x" * 65)),
        _broken(lambda p: p["series"][0].update(extra=1)),
        _broken(lambda p: p["series"].extend([p["series"][0]] * 7)),
        _broken(lambda p: p.update(timestamps=base64.b64encode(b"\1" * 40).decode())),
        _broken(lambda p: p.update(dropped=-1)),
        [],
    ],
    ids=[
        "short",
        "base64",
        "symbol",
        "nul",
        "long-name",
        "key",
        "too-many",
        "times",
        "dropped",
        "type",
    ],
)
def test_the_worker_refuses_indicators_it_could_not_store(payload: Any) -> None:
    with pytest.raises(SandboxError) as caught:
        validate_result({**engine_result(), "indicators": payload}, symbols=["AAA"])
    assert caught.value.code == "invalid_output"
