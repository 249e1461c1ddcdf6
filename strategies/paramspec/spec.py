"""One declared parameter: its declaration rules, its value rules and its sweep axis.

The strategy validator builds a ``ParameterSpec`` from a ``Param(...)`` line read statically,
the engine's ``Param`` builds one at class creation, the backtest API and form rebuild one from
the stored ``to_dict()``. All of them check values here, so a value the API accepts is a value
the engine runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from random import Random
from typing import Any, Final

from strategies.paramspec.declaration import ParamValue, check_declaration, kind_of

# values() materializes its axis: a sweep over more points than this is a mistake, not a plan.
MAX_AXIS_VALUES: Final = 10_000


class ParameterDeclarationError(ValueError):
    """A ``Param(...)`` declaration breaks the rules; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ParameterValueError(ValueError):
    """A value breaks one rule of its parameter: ``rule`` is "type", "choices", "min" or "max".

    ``str()`` is the engine's wording; the API words the same rule for its clients.
    """

    def __init__(self, spec: ParameterSpec, value: object, rule: str) -> None:
        self.spec, self.value, self.rule = spec, value, rule
        super().__init__(_value_message(spec, value, rule))


def _value_message(spec: ParameterSpec, value: object, rule: str) -> str:
    said = f"parameter {spec.name}={value!r}"
    if rule == "type":
        return f"{said} is not a {spec.type}"
    if rule == "choices":
        return f"{said} is not one of {spec.choices}"
    if rule == "min":
        return f"{said} is below its minimum {spec.min}"
    return f"{said} is above its maximum {spec.max}"


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """A tunable parameter declared as ``name = Param(default, ...)`` in the strategy class."""

    name: str
    type: str  # "int" | "float" | "bool" | "str"
    default: ParamValue
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None
    choices: tuple[ParamValue, ...] | None = None
    description: str = ""

    @classmethod
    def declare(
        cls,
        name: str,
        default: Any,
        *,
        min: object = None,
        max: object = None,
        step: object = None,
        choices: Sequence[object] | None = None,
        description: object = "",
    ) -> ParameterSpec:
        """The spec of ``Param(default, ...)``; raises ParameterDeclarationError listing why not."""
        kind = kind_of(default)
        if kind is None:
            raise ParameterDeclarationError(
                [f"the default must be a finite int, float, bool or str, got {default!r}"]
            )
        bounds, values, problems = check_declaration(
            kind, default, {"min": min, "max": max, "step": step}, choices, description
        )
        if problems:
            raise ParameterDeclarationError(problems)
        return cls(
            name, kind, default, bounds["min"], bounds["max"], bounds["step"], values,
            str(description),
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParameterSpec:
        """The spec stored as ``to_dict()`` (e.g. on a strategy version), typed again."""
        kind, choices = data["type"], data.get("choices")
        default = float(data["default"]) if kind == "float" else data["default"]
        return cls(
            data["name"], kind, default, data.get("min"), data.get("max"), data.get("step"),
            tuple(choices) if choices is not None else None, data.get("description") or "",
        )  # fmt: skip

    def named(self, name: str) -> ParameterSpec:
        return replace(self, name=name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with a fixed key order (choices become a list)."""
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "choices": list(self.choices) if self.choices is not None else None,
            "description": self.description,
        }

    # ------------------------------------------------------------------ values

    def validate(self, value: object, *, integral_floats: bool = False) -> ParamValue:
        """The typed value (an int for a float parameter becomes a float).

        Raises ParameterValueError for the first rule broken: type, choices, min, max. The
        step is a sweep's granularity, not a rule on values. ``integral_floats`` lets 4.0
        stand for an int parameter's 4 (the engine's callers compute values; the API takes
        JSON as written and refuses it).
        """
        typed = self._typed(value, integral_floats)
        if self.choices is not None and typed not in self.choices:
            raise ParameterValueError(self, typed, "choices")
        if self.type in ("int", "float"):
            if self.min is not None and typed < self.min:  # type: ignore[operator]
                raise ParameterValueError(self, typed, "min")
            if self.max is not None and typed > self.max:  # type: ignore[operator]
                raise ParameterValueError(self, typed, "max")
        return typed

    def _typed(self, value: object, integral_floats: bool) -> ParamValue:
        if self.type == "bool":
            if isinstance(value, bool):
                return value
        elif self.type == "str":
            if isinstance(value, str):
                return value
        # bool is an int in Python; a checkbox value must not pass as a period length.
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if not _finite(value):
                pass
            elif self.type == "float":
                return float(value)
            elif isinstance(value, int) or (integral_floats and value == int(value)):
                return int(value)
        raise ParameterValueError(self, value, "type")

    # ------------------------------------------------------------------ sweeps

    def axis_length(self) -> int:
        """How many values ``values()`` lists, computed without listing them."""
        if self.choices is not None:
            return len(self.choices)
        if self.type == "bool":
            return 2
        if self._stepped():
            return _steps_within(self.min, self.max, self.step) + 1  # type: ignore[arg-type]
        return 1

    def values(self) -> tuple[ParamValue, ...]:
        """The sweep axis: the choices, both bools, min..max by step, else the default alone.

        Raises ValueError when the axis is longer than MAX_AXIS_VALUES.
        """
        length = self.axis_length()
        if length > MAX_AXIS_VALUES:
            raise ValueError(
                f"parameter {self.name} has {length:,} values on its grid; "
                f"at most {MAX_AXIS_VALUES:,} are allowed"
            )
        if self.choices is not None:
            return self.choices
        if self.type == "bool":
            return (False, True)
        if self._stepped():
            return tuple(self._on_step(k) for k in range(length))
        return (self.default,)

    def draw(self, rng: Random) -> ParamValue:
        """One random value within the spec (choices, step and type respected)."""
        if self.choices is not None:
            return rng.choice(self.choices)
        if self.type == "bool":
            return rng.choice((False, True))
        if self._stepped():
            return self._on_step(rng.randrange(self.axis_length()))
        if self.min is None or self.max is None:
            return self.default  # nothing bounds the draw: the declared value stands
        if self.type == "int":
            return rng.randint(int(self.min), int(self.max))
        # uniform() may round onto max + ulp; the bound is the rule.
        return min(float(self.max), rng.uniform(self.min, self.max))

    def on_step(self, value: ParamValue) -> bool:
        """Whether a number lies on the step grid counted from min (from 0 without a min)."""
        if self.step is None or self.type not in ("int", "float") or isinstance(value, bool | str):
            return False
        base = self.min if self.min is not None else 0
        return (_decimal(value) - _decimal(base)) % _decimal(self.step) == 0

    def _stepped(self) -> bool:
        return self.type in ("int", "float") and None not in (self.min, self.max, self.step)

    def _on_step(self, k: int) -> ParamValue:
        if self.type == "int":
            return int(self.min) + k * int(self.step)  # type: ignore[arg-type]
        # Decimal from the written numbers: 0.1 + 2 * 0.1 is 0.3, not 0.30000000000000004.
        value = float(_decimal(self.min) + k * _decimal(self.step))
        return min(value, float(self.max))  # type: ignore[arg-type]


def _decimal(number: object) -> Decimal:
    return Decimal(repr(number))


def _steps_within(low: float, high: float, step: float) -> int:
    if high < low:
        return -1
    return int((_decimal(high) - _decimal(low)) // _decimal(step))


def _finite(value: int | float) -> bool:
    """Whether a number is finite as a float: an int past float's range (1e308) is not, and
    math.isfinite raises on one rather than answering."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
