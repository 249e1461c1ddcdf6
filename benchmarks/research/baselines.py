"""The in-process sweeps the platform is measured against, each over a list of (fast, slow).

Every one runs the logic of strategies/examples/sma_crossover.py under the benchmark's costs:
long while SMA(fast) > SMA(slow), in on a cross above and out on a cross below (a cross needs
both bars defined: the engine's `crossover`), decided at a bar's close and filled at the next
open, all-in with fractional units, 0.1% commission per side. Each returns the final equity
of every combination, in the order given, so the rows can be compared.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from backtesting.engine import BacktestSpec, BarSeries, CostModel, Strategy, run_backtest
from backtesting.sandbox.facades import build_facades
from backtesting.sandbox.guards import make_importer

HERE = Path(__file__).resolve().parent
COMMISSION = 0.001
CASH = 100_000.0
# What the platform's sweep is asked to use (its `settings`), and the engine loop below.
SETTINGS: dict[str, Any] = {"costs": {"commission_pct": COMMISSION}, "fractional_units": True}
Pairs = list[tuple[int, int]]


# ----------------------------------------------------------------------------- our engine


# The event-driven example, and the same logic in the vectorized style that the platform rows
# sweep (the same trades: tests/optimization/test_bench_strategy.py).
EXAMPLE_STRATEGY_FILE = HERE.parents[1] / "strategies/examples/sma_crossover.py"
SIGNALS_STRATEGY_FILE = HERE / "sma_crossover_signals.py"


def signals_strategy() -> type[Strategy]:
    return strategy_from_file(SIGNALS_STRATEGY_FILE)


def example_strategy() -> type[Strategy]:
    return strategy_from_file(EXAMPLE_STRATEGY_FILE)


def strategy_from_file(path: Path) -> type[Strategy]:
    """The strategy class of a strategy file as plain Python (no RestrictedPython guards): the
    file's imports get the sandbox's facades, so it runs the very code users' files run."""
    namespace: dict[str, Any] = {
        "__builtins__": {**vars(builtins), "__import__": make_importer(build_facades())},
        "__name__": path.stem,
    }
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
    return next(
        value
        for value in namespace.values()
        if isinstance(value, type) and issubclass(value, Strategy) and value is not Strategy
    )


def ours_loop(bars: dict[str, BarSeries], pairs: Pairs, strategy: type[Strategy]) -> list[float]:
    """A plain loop over run_backtest in this process: no sandbox, no database, no queue."""
    base = BacktestSpec(costs=CostModel(commission_pct=COMMISSION), fractional_units=True)
    out = []
    for fast, slow in pairs:
        spec = BacktestSpec.from_dict({**base.to_dict(), "params": {"fast": fast, "slow": slow}})
        out.append(float(run_backtest(spec, bars, strategy).final_equity))
    return out


_POOL_BARS: dict[str, BarSeries] = {}
_POOL_STRATEGY: list[type[Strategy]] = []


def _pool_part(pairs: Pairs) -> list[float]:
    return ours_loop(_POOL_BARS, pairs, _POOL_STRATEGY[0])


def ours_loop_processes(
    bars: dict[str, BarSeries], pairs: Pairs, processes: int, strategy: type[Strategy]
) -> list[float]:
    """The same loop split over `processes` forked processes (pool start-up included)."""
    _POOL_BARS.clear()
    _POOL_BARS.update(bars)
    _POOL_STRATEGY[:] = [strategy]
    parts = [pairs[k::processes] for k in range(processes)]
    ctx = __import__("multiprocessing").get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=ctx) as pool:
        results = list(pool.map(_pool_part, parts))
    out = [0.0] * len(pairs)
    for k, values in enumerate(results):
        out[k::processes] = values
    return out


# ----------------------------------------------------------------------------- vectorbt


def vectorbt_available() -> str | None:
    """None when vectorbt imports, else why not (printed: the row is skipped, not hidden)."""
    try:
        import vectorbt  # noqa: F401
    except Exception as exc:  # any import failure means no row
        return f"vectorbt not importable ({type(exc).__name__}: {exc})"
    return None


def _sma_columns(close: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """(bars, len(windows)) simple moving averages, NaN before each window fills."""
    cs = np.concatenate([[0.0], np.cumsum(close)])
    out = np.full((len(close), len(windows)), np.nan)
    for j, w in enumerate(windows):
        out[w - 1 :, j] = (cs[w:] - cs[:-w]) / w
    return out


def vectorbt_sweep(bars: dict[str, BarSeries], pairs: Pairs, chunk: int = 0) -> list[float]:
    """vectorbt's broadcast sweep: one column per combination, Portfolio.from_signals over all
    columns at once (or `chunk` columns at a time when one broadcast would not fit in memory).
    The SMAs come from vectorbt's own indicator (vbt.MA, one column per window)."""
    import pandas as pd
    import vectorbt as vbt

    series = next(iter(bars.values()))
    index = pd.to_datetime(series.timestamps, utc=True)
    close = pd.Series(series.close, index=index)
    open_ = series.open
    step = chunk or len(pairs)
    out: list[float] = []
    for k in range(0, len(pairs), step):
        part = pairs[k : k + step]
        fast = vbt.MA.run(close, [f for f, _ in part]).ma.to_numpy()
        slow = vbt.MA.run(close, [s for _, s in part]).ma.to_numpy()
        prev_f, prev_s = np.roll(fast, 1, axis=0), np.roll(slow, 1, axis=0)
        prev_f[0], prev_s[0] = np.nan, np.nan
        cross_up = (fast > slow) & (prev_f <= prev_s)  # NaN compares False: as the engine's
        cross_down = (fast < slow) & (prev_f >= prev_s)
        # Decided at bar t's close, filled at bar t+1's open.
        entries = np.zeros_like(cross_up)
        exits = np.zeros_like(cross_down)
        entries[1:], exits[1:] = cross_up[:-1], cross_down[:-1]
        columns = pd.RangeIndex(len(part))
        pf = vbt.Portfolio.from_signals(
            pd.DataFrame(np.broadcast_to(series.close[:, None], fast.shape), index, columns),
            pd.DataFrame(entries, index, columns),
            pd.DataFrame(exits, index, columns),
            price=pd.DataFrame(np.broadcast_to(open_[:, None], fast.shape), index, columns),
            fees=COMMISSION,
            init_cash=CASH,
            size=np.inf,
            freq=pd.Timedelta(int(np.diff(series.timestamps[:2])[0]), "ns"),
        )
        out.extend(float(v) for v in np.asarray(pf.final_value()).reshape(-1))
    return out


# ----------------------------------------------------------------------------- compiled floor


def _floor_sweep(
    open_: np.ndarray,
    close: np.ndarray,
    fasts: np.ndarray,
    slows: np.ndarray,
    cash0: float,
    fee: float,
) -> np.ndarray:
    """Every combination as one running-sum loop: no objects, no orders, final equity only."""
    n = close.shape[0]
    finals = np.empty(fasts.shape[0])
    for c in range(fasts.shape[0]):
        fast, slow = fasts[c], slows[c]
        cash, units, want = cash0, 0.0, 0  # want: +1 buy / -1 sell at the next open
        sum_f = sum_s = 0.0
        prev_f = prev_s = np.nan
        for i in range(n):
            px = open_[i]
            if want == 1 and units == 0.0:
                units = cash / (px * (1.0 + fee))
                cash = 0.0
            elif want == -1 and units > 0.0:
                cash += units * px * (1.0 - fee)
                units = 0.0
            want = 0
            x = close[i]
            sum_f += x
            sum_s += x
            if i >= fast:
                sum_f -= close[i - fast]
            if i >= slow:
                sum_s -= close[i - slow]
            f = sum_f / fast if i >= fast - 1 else np.nan
            s = sum_s / slow if i >= slow - 1 else np.nan
            if f > s and prev_f <= prev_s:
                want = 1
            elif f < s and prev_f >= prev_s:
                want = -1
            prev_f, prev_s = f, s
        finals[c] = cash + units * close[n - 1]
    return finals


def floor_available() -> str | None:
    try:
        import numba  # noqa: F401
    except Exception as exc:
        return f"numba not importable ({type(exc).__name__}: {exc})"
    return None


def floor_sweep_function() -> Callable[[dict[str, BarSeries], Pairs], list[float]]:
    """The numba-compiled floor, compiled here (call once before timing)."""
    import numba

    compiled = numba.njit(cache=False)(_floor_sweep)

    def run(bars: dict[str, BarSeries], pairs: Pairs) -> list[float]:
        series = next(iter(bars.values()))
        fasts = np.array([f for f, _ in pairs], dtype=np.int64)
        slows = np.array([s for _, s in pairs], dtype=np.int64)
        return [
            float(v) for v in compiled(series.open, series.close, fasts, slows, CASH, COMMISSION)
        ]

    return run


# ----------------------------------------------------------------------------- backtesting.py


def backtesting_py_optimize(
    bars: dict[str, BarSeries], pairs: Pairs, samples: int
) -> tuple[list[float], int, list[float]] | str:
    """backtesting.py's Backtest.optimize in a subprocess: (times, processes, final equities),
    or why it could not run."""
    series = next(iter(bars.values()))
    with tempfile.TemporaryDirectory(prefix="tp-bench-btpy-") as tmp:
        data, combos = Path(tmp) / "bars.npz", Path(tmp) / "combos.json"
        fields = {f: getattr(series, f) for f in ("open", "high", "low", "close", "volume")}
        np.savez(data, ts=series.timestamps, **fields)
        combos.write_text(json.dumps(pairs))
        proc = subprocess.run(
            [
                sys.executable,
                "-P",
                str(HERE / "bt_optimize.py"),
                str(data),
                str(combos),
                str(samples),
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": ""},
        )
    if proc.returncode != 0:
        return f"backtesting.py failed: {proc.stderr.strip().splitlines()[-1:]}"
    out = json.loads(proc.stdout)
    return out["times"], out["processes"], out["equity"]
