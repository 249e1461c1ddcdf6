"""The research benchmark sweeps a vectorized SMA crossover (benchmarks/research/
sma_crossover_signals.py) instead of the event-driven example: both must make the very same
trades, or the benchmark would time different work."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtesting.engine import BacktestSpec, BarSeries, CostModel, run_backtest
from backtesting.sandbox.facades import build_facades
from backtesting.sandbox.guards import BoundedLog, restricted_globals
from backtesting.sandbox.runner import find_strategy_class
from benchmarks.engine.data import MINUTE_NS, load_csv, synthetic
from benchmarks.research.baselines import (
    EXAMPLE_STRATEGY_FILE,
    SIGNALS_STRATEGY_FILE,
    example_strategy,
    signals_strategy,
)
from strategies.validation import compile_strategy

ROOT = Path(__file__).resolve().parents[2]
SPEC = BacktestSpec(costs=CostModel(commission_pct=0.001), fractional_units=True)


def sandboxed_class(path: Path) -> type:
    """The strategy class as the sandbox child builds it (validated, RestrictedPython)."""
    namespace = restricted_globals(build_facades(), BoundedLog(1000))
    exec(compile_strategy(path.read_text()), namespace)  # noqa: S102
    return find_strategy_class(namespace)


def ibm_daily() -> BarSeries:
    real = load_csv(ROOT / "backtesting/marketdata/demo_data/IBM.csv.gz", symbol="IBM")
    cut = slice(len(real) - 2520, None)
    fields = ("timestamps", "open", "high", "low", "close", "volume")
    return BarSeries("IBM", *(getattr(real, f)[cut] for f in fields))


@pytest.mark.parametrize(
    ("series", "fast", "slow"),
    [
        (ibm_daily(), 5, 20),
        (ibm_daily(), 10, 20),
        (ibm_daily(), 50, 200),
        (synthetic(20_000, seed=1, symbol="MIN", step_ns=MINUTE_NS), 2, 10),
        (synthetic(20_000, seed=1, symbol="MIN", step_ns=MINUTE_NS), 37, 311),
    ],
    ids=["ibm-5-20", "ibm-10-20", "ibm-50-200", "minute-2-10", "minute-37-311"],
)
def test_the_vectorized_crossover_trades_exactly_as_the_event_driven_example(
    series: BarSeries, fast: int, slow: int
) -> None:
    spec = BacktestSpec.from_dict({**SPEC.to_dict(), "params": {"fast": fast, "slow": slow}})
    bars = {series.symbol: series}
    event = run_backtest(spec, bars, sandboxed_class(EXAMPLE_STRATEGY_FILE))
    vectorized = run_backtest(spec, bars, sandboxed_class(SIGNALS_STRATEGY_FILE))
    assert event.mode != vectorized.mode
    assert len(event.trades) > 3
    assert vectorized.trades == event.trades
    assert vectorized.final_equity == event.final_equity
    assert vectorized.statistics == event.statistics
    # The benchmark's in-process rows load the same files without the guards: same results.
    assert run_backtest(spec, bars, signals_strategy()).trades == event.trades
    assert run_backtest(spec, bars, example_strategy()).trades == event.trades
