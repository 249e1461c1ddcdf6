"""The "Run a backtest" form: parses input only; `backtest_submit` holds every rule.

Ranges, quotas and data checks are deliberately not repeated here: the declared min/max of
a parameter only become HTML hints, and the service's domain errors are put back on the
fields they name (`add_domain_error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, cast

from django import forms
from django.db.models import TextChoices

from backtesting.engine import BacktestSpec
from backtesting.marketdata.timeframes import TIMEFRAME_CHOICES, Timeframe
from backtesting.services import BacktestInput
from strategies.models import StrategyVersion
from strategies.paramspec import ParameterSpace, ParameterSpec
from tradeplatform.errors import DomainError, DomainValidationError

PARAM_PREFIX = "param_"


class AnySymbolField(forms.MultipleChoiceField):
    """A multi-select whose posted symbols the service judges (unknown ones included)."""

    def valid_value(self, value: str) -> bool:
        return True

    def clean(self, value: Any) -> list[str]:
        return [s.strip().upper() for s in super().clean(value)]


# Costs a professional would not leave at zero, as people read them (the demo's backtests use
# the same: management/commands/load_demo_backtests.py). The engine takes the commission as a
# fraction of the notional (0.001) and slippage in basis points per side (5.0).
DEFAULT_COMMISSION_PERCENT = 0.1
DEFAULT_SLIPPAGE_BPS = 5
PREFERRED_TIMEFRAME = Timeframe.D1.value

# {symbol: {timeframe: (first bar, last bar)}}: data_availability()'s shape.
Availability = dict[str, dict[str, tuple[datetime, datetime]]]


class Sizing(TextChoices):
    """How order sizes are rounded: the engine's unit step (BacktestSpec.unit_step)."""

    WHOLE = "whole", "Whole units"
    FRACTIONAL = "fractional", "Fractional units"
    LOTS = "lots", "Lots of a fixed size"


@dataclass(frozen=True)
class FormChoices:
    """What the form offers: the strategy's versions, and the instruments and timeframes with
    data (`availability`), priced in `currency`."""

    versions: list[StrategyVersion]
    availability: Availability
    currency: str = "USD"

    @property
    def symbols(self) -> list[str]:
        return list(self.availability)

    def timeframes(self) -> list[str]:
        """Timeframes that at least one instrument has data for, shortest first."""
        offered = {tf for series in self.availability.values() for tf in series}
        return [tf.value for tf in Timeframe if tf.value in offered]

    def common_range(self, symbols: list[str], timeframe: str) -> tuple[date, date] | None:
        """The days every one of `symbols` has `timeframe` data (all symbols when none given)."""
        spans = [self.availability[s].get(timeframe) for s in symbols or self.symbols]
        known = [span for span in spans if span is not None]
        if not known:
            return None
        if symbols:  # the range all of them cover; without a choice, the widest
            first, last = max(s[0] for s in known), min(s[1] for s in known)
        else:
            first, last = min(s[0] for s in known), max(s[1] for s in known)
        return (first.date(), last.date()) if first <= last else None

    def as_json(self) -> dict[str, dict[str, list[str]]]:
        """The availability as the page's script reads it: days as ISO dates."""
        return {symbol: _iso_days(spans) for symbol, spans in self.availability.items()}


def _iso_days(spans: dict[str, tuple[datetime, datetime]]) -> dict[str, list[str]]:
    return {tf: [lo.date().isoformat(), hi.date().isoformat()] for tf, (lo, hi) in spans.items()}


class BacktestForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, label="Strategy version")
    instruments = AnySymbolField(
        widget=forms.CheckboxSelectMultiple,
        help_text="Only instruments with market data are listed.",
    )
    timeframe = forms.ChoiceField(
        help_text="Only timeframes with data for the chosen instruments can run."
    )
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="Included whole."
    )
    initial_cash = forms.FloatField(widget=forms.NumberInput(attrs={"step": "any", "min": "0"}))
    commission_pct = forms.FloatField(
        label="Commission (% of each trade's value)",
        help_text="Paid on every buy and every sell: 0.1 means 0.1 %, i.e. 1 per 1,000 traded.",
        min_value=0,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    slippage_bps = forms.FloatField(
        label="Slippage (basis points per fill)",
        help_text="The price moves against you on every fill: 5 bps = 0.05 %.",
        min_value=0,
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    sizing = forms.ChoiceField(
        label="Order sizes",
        choices=Sizing.choices,
        initial=Sizing.WHOLE,
        help_text="How the strategy's orders are rounded.",
    )
    lot_size = forms.FloatField(
        label="Lot size (units)",
        required=False,
        help_text="Only with lots of a fixed size, e.g. 100 shares.",
        widget=forms.NumberInput(attrs={"step": "any", "min": "0"}),
    )
    allow_short = forms.BooleanField(required=False, label="Allow short selling")
    benchmark = forms.ChoiceField(
        label="Benchmark (buy and hold)",
        required=False,
        help_text="Metrics compare the strategy with buying and holding this instrument.",
    )

    def __init__(
        self,
        *args: Any,
        choices: FormChoices,
        version: StrategyVersion,
        chosen: list[str] | None = None,
        **kw: Any,
    ) -> None:
        kw.setdefault("label_suffix", "")
        super().__init__(*args, **kw)
        self.choices = choices
        self.versions = {v.number: v for v in choices.versions}
        latest = max(self.versions)
        cast(forms.ChoiceField, self.fields["version"]).choices = [
            (n, f"v{n}{' (latest)' if n == latest else ''}") for n in sorted(self.versions)[::-1]
        ]
        symbols = [(s, s) for s in choices.symbols]
        cast(forms.ChoiceField, self.fields["instruments"]).choices = symbols
        labels = dict(TIMEFRAME_CHOICES)
        cast(forms.ChoiceField, self.fields["timeframe"]).choices = [
            (tf, labels[tf]) for tf in choices.timeframes()
        ]
        cast(forms.ChoiceField, self.fields["benchmark"]).choices = [
            ("", "The first instrument"),
            *symbols,
        ]
        self.fields["initial_cash"].label = f"Initial cash ({choices.currency})"
        self.initial.update(_initial(version, choices, chosen or []))
        self.parameter_specs = ParameterSpace.from_dicts(version.parameters).specs
        for spec in self.parameter_specs:
            self.fields[PARAM_PREFIX + spec.name] = parameter_field(spec)

    def run_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("version", "start", "end")]

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[PARAM_PREFIX + spec.name] for spec in self.parameter_specs]

    def cost_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("initial_cash", "commission_pct", "slippage_bps")]

    def setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("sizing", "lot_size", "allow_short", "benchmark")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        symbols, timeframe = data.get("instruments") or [], data.get("timeframe")
        if timeframe:
            # Unknown symbols are the service's to report; known ones must have this timeframe.
            known = [s for s in symbols if s in self.choices.availability]
            missing = [s for s in known if timeframe not in self.choices.availability[s]]
            if missing:
                self.add_error("timeframe", f"No {timeframe} data for {', '.join(missing)}.")
        benchmark = data.get("benchmark")
        if benchmark and "instruments" in data and benchmark not in symbols:
            self.add_error("benchmark", "Pick one of the instruments chosen above.")
        if data.get("sizing") == Sizing.LOTS:
            lot = data.get("lot_size")
            if lot is None or lot < 1 or lot != int(lot):
                self.add_error("lot_size", "Give a whole number of units, 1 or more.")
        return data

    def to_input(self) -> BacktestInput:
        """The cleaned form as the service's input (call after is_valid())."""
        data = self.cleaned_data
        lots = data["sizing"] == Sizing.LOTS
        return BacktestInput(
            strategy_version=self.versions[data["version"]],
            symbols=data["instruments"],
            timeframe=data["timeframe"],
            start=datetime.combine(data["start"], time.min, tzinfo=UTC),
            # The end day is included whole, so its intraday bars count too.
            end=datetime.combine(data["end"], time.max, tzinfo=UTC),
            parameters=self._given_parameters(),
            settings={
                "initial_cash": data["initial_cash"],
                # The engine takes a fraction of the notional; people think in percent.
                "costs": {
                    "commission_pct": data["commission_pct"] / 100,
                    "slippage_bps": data["slippage_bps"],
                },
                "allow_short": data["allow_short"],
                "fractional_units": data["sizing"] == Sizing.FRACTIONAL,
                "lot_size": data["lot_size"] if lots else None,
                "benchmark": data.get("benchmark") or None,
            },
        )

    def _given_parameters(self) -> dict[str, Any]:
        # A blank field means "the declared default": the service fills it in.
        given = {}
        for spec in self.parameter_specs:
            value = self.cleaned_data.get(PARAM_PREFIX + spec.name)
            if value is not None and value != "":
                given[spec.name] = value
        return given

    def add_domain_error(self, exc: DomainError) -> None:
        """Put a service error on the fields it names; what names no field goes on top."""
        # Only validation details name fields; a quota's details are numbers for the API.
        details = exc.details if isinstance(exc, DomainValidationError) else None
        details = details if isinstance(details, dict) else {}
        placed = False
        for key, errors in details.items():
            for field, message in _flatten(key, errors):
                if field in self.fields:
                    self.add_error(field, message)
                    placed = True
                else:
                    self.add_error(None, message)
        if not placed:
            self.add_error(None, exc.message)


def _flatten(key: str, errors: Any) -> list[tuple[str, str]]:
    """("parameters", {"fast": "..."}) -> [("param_fast", "fast: ...")], and the like."""
    if isinstance(errors, dict):
        if key == "parameters":
            return [(PARAM_PREFIX + name, str(msg)) for name, msg in errors.items()]
        return [(key, f"{name}: {msg}") for name, msg in errors.items()]
    if isinstance(errors, list):
        if key == "settings":
            return [(_setting_field(str(msg)), str(msg)) for msg in errors]
        return [(key, str(msg)) for msg in errors]
    return [(key, str(errors))]


# The engine words a bad setting "<field> must be ..." ("costs.slippage_bps must be a finite
# number >= 0"): the field it names is where the form shows it.
_SETTING_FIELDS = {
    "initial_cash": "initial_cash",
    "costs.commission_pct": "commission_pct",
    "costs.slippage_bps": "slippage_bps",
    "lot_size": "lot_size",
    "benchmark": "benchmark",
}


def _setting_field(message: str) -> str:
    named = message.split(" ", 1)[0]
    return _SETTING_FIELDS.get(named, "settings")


def _initial(version: StrategyVersion, choices: FormChoices, chosen: list[str]) -> dict[str, Any]:
    spec = BacktestSpec()  # the engine's defaults, but for costs: it charges none by default
    initial: dict[str, Any] = {
        "version": version.number,
        "initial_cash": round(spec.initial_cash),  # 100000, not 100000.0
        "commission_pct": DEFAULT_COMMISSION_PERCENT,
        "slippage_bps": DEFAULT_SLIPPAGE_BPS,
        "allow_short": spec.allow_short,
    }
    timeframes = choices.timeframes()
    if not timeframes:  # no market data at all: the page says so
        return initial
    symbols = chosen or (choices.symbols if len(choices.symbols) == 1 else [])
    if symbols:  # a timeframe all of them have, else the form's error says which lack it
        common = set.intersection(*(set(choices.availability[s]) for s in symbols))
        timeframes = [tf for tf in timeframes if tf in common] or timeframes
    timeframe = PREFERRED_TIMEFRAME if PREFERRED_TIMEFRAME in timeframes else timeframes[0]
    initial.update(instruments=symbols, timeframe=timeframe)
    span = choices.common_range(symbols, timeframe)
    if span is not None:
        initial["start"], initial["end"] = span
    return initial


def parameter_field(spec: ParameterSpec) -> forms.Field:
    """One form field for a declared parameter, its default filled in."""
    common: dict[str, Any] = {
        "label": spec.name,
        "help_text": parameter_help(spec),
        "initial": spec.default,
        "required": False,
    }
    if spec.choices is not None:
        by_text = {str(c): c for c in spec.choices}
        return forms.TypedChoiceField(
            choices=[(t, t) for t in by_text], coerce=by_text.__getitem__, **common
        )
    if spec.type == "bool":
        return forms.BooleanField(**common)
    if spec.type == "int":
        return forms.IntegerField(widget=forms.NumberInput(attrs=_bounds(spec)), **common)
    if spec.type == "float":
        attrs = {"step": "any", **_bounds(spec)}  # the declared step when the default is on it
        return forms.FloatField(widget=forms.NumberInput(attrs=attrs), **common)
    return forms.CharField(strip=False, **common)


def parameter_help(spec: ParameterSpec) -> str:
    """The declaration as a sentence, e.g. "Fast SMA. A whole number from 2 to 200; default 10." """
    kinds = {"int": "A whole number", "float": "A number", "str": "Text", "bool": "On or off"}
    said = kinds.get(spec.type, "A value")
    if spec.choices is not None:
        said = "One of " + ", ".join(str(c) for c in spec.choices)
    elif spec.min is not None and spec.max is not None:
        said += f" from {spec.min} to {spec.max}"
    elif spec.min is not None:
        said += f" of at least {spec.min}"
    elif spec.max is not None:
        said += f" of at most {spec.max}"
    default = ("on" if spec.default else "off") if spec.type == "bool" else spec.default
    sentence = f"{said}; default {default}."
    return f"{spec.description.rstrip('.')}. {sentence}" if spec.description else sentence


def _bounds(spec: ParameterSpec) -> dict[str, Any]:
    # Browser hints only; the service enforces the range. A step is hinted only when the
    # default sits on its grid (from min), or the browser would refuse the default itself.
    attrs: dict[str, Any] = {
        k: v for k, v in (("min", spec.min), ("max", spec.max)) if v is not None
    }
    if spec.on_step(spec.default):
        attrs["step"] = spec.step
    return attrs
