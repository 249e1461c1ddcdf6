"""The backtest engine: pure Python + NumPy, no Django (see docs/strategy-guide.md)."""

from backtesting.engine.bars import BarSeries
from backtesting.engine.errors import EngineError, StrategyError
from backtesting.engine.result import BacktestResult
from backtesting.engine.runner import run_backtest
from backtesting.engine.spec import BacktestSpec, CostModel
from backtesting.engine.strategy import Param, Strategy, crossover, crossunder
from backtesting.engine.version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION",
    "BacktestResult",
    "BacktestSpec",
    "BarSeries",
    "CostModel",
    "EngineError",
    "Param",
    "Strategy",
    "StrategyError",
    "crossover",
    "crossunder",
    "run_backtest",
]
