"""The example library: every example validates and runs end to end in the sandbox.

This is a test of the whole pipeline (validator -> sandbox -> engine), so importing
backtesting here is fine; the strategies app itself never imports it.
"""

from __future__ import annotations

import numpy as np
import pytest

from strategies.library import EXAMPLES_DIR, example_list
from strategies.validation import validate_strategy_code

EXAMPLES = example_list()
REQUIRED = {
    "sma_crossover",
    "rsi_mean_reversion",
    "bollinger_breakout",
    "macd_trend",
    "donchian_atr",
    "momentum_rotation",
}
MULTI_ASSET = {"momentum_rotation"}
DAY_NS = 86_400_000_000_000


def test_the_library_has_every_required_example():
    assert {example.slug for example in EXAMPLES} >= REQUIRED
    assert len(EXAMPLES) == len(list(EXAMPLES_DIR.glob("*.py")))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_every_example_passes_validation(example):
    verdict = validate_strategy_code(example.code)
    assert verdict.ok, [str(problem) for problem in verdict.problems]
    assert verdict.parameters, "examples teach parameters: each declares some"
    assert all(parameter.description for parameter in verdict.parameters)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_every_example_is_documented(example):
    assert example.title
    assert len(example.description) > 40
    assert example.code.count("#") >= 3, "examples are commented to teach the API"


def _synthetic_bars(symbol: str, seed: int, n: int = 600) -> object:
    """A trending, mean-reverting random walk: every example trades on it."""
    from backtesting.engine import BarSeries

    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0004, 0.015, n) + 0.01 * np.sin(np.arange(n) / (15 + seed))
    close = 100.0 * np.exp(np.cumsum(steps))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.006, n)) * close
    timestamps = (np.arange(n, dtype=np.int64) + 18_000) * DAY_NS
    return BarSeries(
        symbol=symbol,
        timestamps=timestamps,
        open=open_,
        high=np.maximum(open_, close) + spread,
        low=np.minimum(open_, close) - spread,
        close=close,
        volume=np.full(n, 1_000_000.0),
    )


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_every_example_runs_end_to_end_in_the_sandbox(example):
    sandbox = pytest.importorskip("backtesting.sandbox", reason="the sandbox is not built yet")
    engine = pytest.importorskip("backtesting.engine", reason="the engine is not built yet")
    symbols = ["AAA", "BBB", "CCC"] if example.slug in MULTI_ASSET else ["AAA"]
    bars = {symbol: _synthetic_bars(symbol, seed) for seed, symbol in enumerate(symbols, 1)}
    spec = engine.BacktestSpec(initial_cash=100_000.0).to_dict()

    result = sandbox.run_strategy_in_sandbox(code=example.code, spec=spec, bars=bars)

    trades = _trade_count(result)
    assert trades > 0, f"{example.slug} never traded on the synthetic bars"


def _trade_count(result: dict) -> int:
    for key in ("trades", "closed_trades"):
        if isinstance(result.get(key), list):
            return len(result[key])
    stats = result.get("statistics") or result.get("stats") or {}
    for key in ("trade_count", "trades", "n_trades", "num_trades", "total_trades"):
        if isinstance(stats.get(key), int | float):
            return int(stats[key])
    raise AssertionError(f"no trade count in the result keys {sorted(result)}")
