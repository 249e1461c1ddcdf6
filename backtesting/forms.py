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


@dataclass(frozen=True)
class FormChoices:
    """What the form offers: the strategy's versions and the instruments with data."""

    versions: list[StrategyVersion]
    symbols: list[str]
    first_day: date | None
    last_day: date | None


class BacktestForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, label="Strategy version")
    instruments = AnySymbolField(widget=forms.SelectMultiple(attrs={"size": 6}))
    timeframe = forms.ChoiceField(choices=TIMEFRAME_CHOICES, initial=Timeframe.D1.value)
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    initial_cash = forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}))
    commission_pct = forms.FloatField(
        label="Commission (%)",
        help_text="Of each trade's value, e.g. 0.1 for 0.1 %.",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    slippage_bps = forms.FloatField(
        label="Slippage (bps)", widget=forms.NumberInput(attrs={"step": "any"})
    )
    allow_short = forms.BooleanField(required=False)
    fractional_units = forms.BooleanField(required=False)

    def __init__(
        self, *args: Any, choices: FormChoices, version: StrategyVersion, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.versions = {v.number: v for v in choices.versions}
        latest = max(self.versions)
        cast(forms.ChoiceField, self.fields["version"]).choices = [
            (n, f"v{n}{' (latest)' if n == latest else ''}") for n in sorted(self.versions)[::-1]
        ]
        cast(forms.ChoiceField, self.fields["instruments"]).choices = [
            (s, s) for s in choices.symbols
        ]
        self.initial.update(_initial(version, choices))
        self.parameter_specs = ParameterSpace.from_dicts(version.parameters).specs
        for spec in self.parameter_specs:
            self.fields[PARAM_PREFIX + spec.name] = parameter_field(spec)

    def run_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("version", "instruments", "timeframe", "start", "end")]

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[PARAM_PREFIX + spec.name] for spec in self.parameter_specs]

    def setting_fields(self) -> list[forms.BoundField]:
        names = ("initial_cash", "commission_pct", "slippage_bps", "allow_short")
        return [self[name] for name in (*names, "fractional_units")]

    def to_input(self) -> BacktestInput:
        """The cleaned form as the service's input (call after is_valid())."""
        data = self.cleaned_data
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
                "fractional_units": data["fractional_units"],
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
        return [(key, str(msg)) for msg in errors]
    return [(key, str(errors))]


def _initial(version: StrategyVersion, choices: FormChoices) -> dict[str, Any]:
    spec = BacktestSpec()  # the engine's defaults are the form's defaults
    initial: dict[str, Any] = {
        "version": version.number,
        "start": choices.first_day,
        "end": choices.last_day,
        "initial_cash": spec.initial_cash,
        "commission_pct": spec.costs.commission_pct * 100,
        "slippage_bps": spec.costs.slippage_bps,
        "allow_short": spec.allow_short,
        "fractional_units": spec.fractional_units,
    }
    if len(choices.symbols) == 1:
        initial["instruments"] = choices.symbols
    return initial


def parameter_field(spec: ParameterSpec) -> forms.Field:
    """One form field for a declared parameter, its default filled in."""
    common: dict[str, Any] = {
        "label": spec.name,
        "help_text": spec.description,
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
        attrs = {**_bounds(spec), "step": "any"}
        return forms.FloatField(widget=forms.NumberInput(attrs=attrs), **common)
    return forms.CharField(strip=False, **common)


def _bounds(spec: ParameterSpec) -> dict[str, Any]:
    # Browser hints only; the service enforces the range. A step is hinted only when the
    # default sits on its grid (from min), or the browser would refuse the default itself.
    attrs: dict[str, Any] = {
        k: v for k, v in (("min", spec.min), ("max", spec.max)) if v is not None
    }
    if spec.on_step(spec.default):
        attrs["step"] = spec.step
    return attrs
