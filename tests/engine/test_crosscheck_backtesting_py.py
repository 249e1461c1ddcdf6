"""Cross-check against backtesting.py (pip package ``backtesting``, a test-only extra).

Its import name clashes with our ``backtesting`` package, so it runs in a subprocess started
outside the repository with ``-P`` (no script directory on sys.path): there ``import
backtesting`` finds the site-packages one. Both sides get the same bars and SMA arrays, long
only, next-open fills, 0.1% commission on both sides, size = all available equity in whole
units (backtesting.py's default ``buy()`` size is 1 - machine epsilon of available equity).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backtesting.engine import BacktestSpec, CostModel, Strategy, run_backtest
from backtesting.engine import indicators as ta
from tests.engine.helpers import random_bars

FULL_EQUITY = 1 - sys.float_info.epsilon  # backtesting.py's _FULL_EQUITY

BT_SCRIPT = r"""
import json, sys, warnings
import numpy as np, pandas as pd
from backtesting import Backtest, Strategy
warnings.simplefilter("ignore")
d = np.load(sys.argv[1])
index = pd.to_datetime(d["ts"], utc=True).tz_localize(None)
df = pd.DataFrame({"Open": d["open"], "High": d["high"], "Low": d["low"], "Close": d["close"],
                   "Volume": d["volume"]}, index=index)

class SmaCross(Strategy):
    def init(self):
        self.f = self.I(lambda: d["fast"], name="fast")
        self.s = self.I(lambda: d["slow"], name="slow")
    def next(self):
        f, s = self.f, self.s
        if f[-2] < s[-2] and f[-1] > s[-1]:
            self.buy()
        elif s[-2] < f[-2] and s[-1] > f[-1]:
            self.position.close()

stats = Backtest(df, SmaCross, cash=100_000, commission=0.001).run()
t = stats._trades
print(json.dumps({
    "final_equity": float(stats["Equity Final [$]"]),
    "trades": [[int(a), int(b), float(c), float(e), float(x), float(p)] for a, b, c, e, x, p in zip(
        t.EntryBar, t.ExitBar, t.Size, t.EntryPrice, t.ExitPrice, t.PnL)],
}))
"""


def _has_backtesting_py() -> bool:
    probe = "import importlib.util as u, sys; sys.exit(0 if u.find_spec('backtesting.lib') else 1)"
    return (
        subprocess.run([sys.executable, "-P", "-c", probe], cwd=tempfile.gettempdir()).returncode
        == 0
    )


pytestmark = pytest.mark.skipif(not _has_backtesting_py(), reason="backtesting.py not installed")


def _run_backtesting_py(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.npz"
        np.savez(path, **arrays)  # type: ignore[arg-type]  # the stub reads **kwds as a flag
        out = subprocess.run(
            [sys.executable, "-P", "-c", BT_SCRIPT, str(path)],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout)


def _ours(bars: Any, fast: np.ndarray, slow: np.ndarray) -> Any:
    class SmaCross(Strategy):
        def init(self) -> None:
            self.f, self.s = self.I(lambda: fast), self.I(lambda: slow)

        def next(self) -> None:
            f, s = self.f, self.s
            if f[-2] < s[-2] and f[-1] > s[-1]:
                self.buy(fraction=FULL_EQUITY)
            elif s[-2] < f[-2] and s[-1] > f[-1]:
                self.close()

    spec = BacktestSpec(initial_cash=100_000, costs=CostModel(commission_pct=0.001))
    return run_backtest(spec, {"AAA": bars}, SmaCross)


@pytest.mark.parametrize("seed", [3, 17])
def test_long_only_sma_crossover_reproduces_backtesting_py(seed: int) -> None:
    bars = random_bars(2148, seed=seed)
    fast, slow = ta.sma(bars.close, 10), ta.sma(bars.close, 20)
    theirs = _run_backtesting_py(
        {
            "ts": bars.timestamps,
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
            "fast": fast,
            "slow": slow,
        }
    )
    ours = _ours(bars, fast, slow)
    closed = [t for t in ours.trades if not t["open"]]
    assert len(closed) == len(theirs["trades"]) > 30
    for mine, (entry_bar, exit_bar, size, entry, exit_, pnl) in zip(
        closed, theirs["trades"], strict=True
    ):
        assert (mine["entry_bar"], mine["exit_bar"], mine["size"]) == (entry_bar, exit_bar, size)
        assert mine["entry_price"] == pytest.approx(entry, rel=1e-12)
        assert mine["exit_price"] == pytest.approx(exit_, rel=1e-12)
        assert mine["net_pnl"] == pytest.approx(pnl, rel=1e-9, abs=1e-6)
    assert ours.final_equity == pytest.approx(theirs["final_equity"], rel=1e-9)
