"""Frozen inputs of a backtest: the cost model and the run specification."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from backtesting.engine.errors import EngineError

FILL_MODES = ("next_open", "same_close")


@dataclass(frozen=True)
class CostModel:
    """Trading costs, charged on both sides of every fill.

    commission = max(commission_fixed + commission_pct * notional, commission_min);
    spread_bps is the full bid/ask spread (half is paid per side); slippage_bps is paid per side.
    """

    commission_fixed: float = 0.0
    commission_pct: float = 0.0
    commission_min: float = 0.0
    spread_bps: float = 0.0
    slippage_bps: float = 0.0

    def __post_init__(self) -> None:
        for name in _COST_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise EngineError(f"costs.{name} must be a finite number >= 0, got {value!r}")

    def commission(self, notional: float) -> float:
        """Commission in cash for a fill of ``notional`` (absolute) value; never negative."""
        if notional <= 0.0:
            return 0.0
        fee = self.commission_fixed + self.commission_pct * notional
        return fee if fee > self.commission_min else self.commission_min

    @property
    def price_impact(self) -> float:
        """Fractional adverse price move per side: half the spread plus slippage."""
        return (self.spread_bps * 0.5 + self.slippage_bps) * 1e-4


@dataclass(frozen=True)
class BacktestSpec:
    """Everything that, together with bars and strategy code, determines a result bit-for-bit."""

    initial_cash: float = 100_000.0
    costs: CostModel = field(default_factory=CostModel)
    fill_mode: str = "next_open"
    allow_short: bool = False
    fractional_units: bool = False
    lot_size: float | None = None
    min_order_value: float = 0.0
    margin_initial: float = 1.0
    margin_maintenance: float = 0.5
    borrow_rate_annual: float = 0.0
    count_open_trades: bool = False
    risk_free_rate: float = 0.0
    periods_per_year: float | None = None
    benchmark: str | None = None
    warmup_bars: int | None = None
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_money()
        self._check_sizing()
        if self.fill_mode not in FILL_MODES:
            raise EngineError(f"fill_mode must be one of {FILL_MODES}, got {self.fill_mode!r}")
        if self.warmup_bars is not None and (
            not isinstance(self.warmup_bars, int) or self.warmup_bars < 0
        ):
            raise EngineError("warmup_bars must be None or an int >= 0")
        if self.periods_per_year is not None and not self.periods_per_year > 0:
            raise EngineError("periods_per_year must be None or > 0")
        if not isinstance(self.params, dict):
            raise EngineError("params must be a dict")

    def _check_money(self) -> None:
        if not (math.isfinite(self.initial_cash) and self.initial_cash > 0):
            raise EngineError("initial_cash must be > 0")
        if not 0 < self.margin_initial <= 10:
            raise EngineError("margin_initial must be in (0, 10]")
        if not 0 <= self.margin_maintenance <= self.margin_initial:
            raise EngineError("margin_maintenance must be in [0, margin_initial]")
        if self.borrow_rate_annual < 0 or self.min_order_value < 0:
            raise EngineError("borrow_rate_annual and min_order_value must be >= 0")

    def _check_sizing(self) -> None:
        lot = self.lot_size
        if lot is None:
            return
        if not (math.isfinite(lot) and lot > 0):
            raise EngineError("lot_size must be None or > 0")
        if not self.fractional_units and (lot < 1 or lot != int(lot)):
            raise EngineError("lot_size must be a whole number >= 1 unless fractional_units")

    @property
    def unit_step(self) -> float:
        """Size increment: the lot size, else 1 (whole units) or 0 (continuous, fractional)."""
        if self.lot_size is not None:
            return float(self.lot_size)
        return 0.0 if self.fractional_units else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe echo of the spec with a fixed key order."""
        out = dataclasses.asdict(self)
        out["params"] = {k: self.params[k] for k in sorted(self.params)}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BacktestSpec:
        """Build a spec from a plain dict (unknown keys are an error, not silently dropped)."""
        unknown = sorted(set(data) - _SPEC_FIELDS)
        if unknown:
            raise EngineError(f"unknown spec fields: {', '.join(unknown)}")
        kwargs = dict(data)
        costs = kwargs.get("costs")
        if isinstance(costs, dict):
            bad = sorted(set(costs) - set(_COST_FIELDS))
            if bad:
                raise EngineError(f"unknown cost fields: {', '.join(bad)}")
            kwargs["costs"] = CostModel(**costs)
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise EngineError(str(exc)) from exc


# The field names, read once: a sweep builds a spec for every combination.
_COST_FIELDS = tuple(f.name for f in dataclasses.fields(CostModel))
_SPEC_FIELDS = frozenset(f.name for f in dataclasses.fields(BacktestSpec))
