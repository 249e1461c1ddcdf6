"""A strategy's parameters together: resolving given values, the grid and samples of a sweep."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from random import Random
from typing import Any

from strategies.paramspec.declaration import ParamValue
from strategies.paramspec.spec import ParameterSpec, ParameterValueError

ParamValues = dict[str, ParamValue]


@dataclass(frozen=True)
class Resolution:
    """Declared defaults overlaid with the given values, and what was wrong with them.

    ``unknown`` keeps the order the names were given in; ``errors`` the declaration order.
    """

    values: ParamValues
    unknown: list[str] = field(default_factory=list)
    errors: dict[str, ParameterValueError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unknown and not self.errors


@dataclass(frozen=True)
class ParameterSpace:
    """A strategy's declared parameters, in declaration order."""

    specs: tuple[ParameterSpec, ...]

    @classmethod
    def from_dicts(cls, declared: Iterable[dict[str, Any]]) -> ParameterSpace:
        return cls(tuple(ParameterSpec.from_dict(d) for d in declared))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    def defaults(self) -> ParamValues:
        return {spec.name: spec.default for spec in self.specs}

    def resolve(self, given: dict[str, Any], *, integral_floats: bool = False) -> Resolution:
        """Every declared parameter's value (its default when not given), checked by its spec."""
        declared = set(self.names)
        unknown = [name for name in given if name not in declared]
        values: ParamValues = {}
        errors: dict[str, ParameterValueError] = {}
        for spec in self.specs:
            if spec.name not in given:
                values[spec.name] = spec.default
                continue
            try:
                values[spec.name] = spec.validate(given[spec.name], integral_floats=integral_floats)
            except ParameterValueError as exc:
                errors[spec.name] = exc
        return Resolution(values, unknown, errors)

    def grid_size(self) -> int:
        """How many points ``grid()`` yields, without listing them."""
        return math.prod(spec.axis_length() for spec in self.specs)

    def grid(self) -> Iterator[ParamValues]:
        """Every combination of the specs' ``values()`` (the cartesian product), lazily.

        A parameter with no finite axis (no choices, or no min, max and step) keeps its default.
        """
        axes = [spec.values() for spec in self.specs]
        for point in itertools.product(*axes):
            yield dict(zip(self.names, point, strict=True))

    def sample(self, n: int, seed: int) -> list[ParamValues]:
        """``n`` random points within the specs; the same seed gives the same points."""
        if n < 0:
            raise ValueError(f"cannot draw {n} samples")
        rng = Random(seed)
        return [{spec.name: spec.draw(rng) for spec in self.specs} for _ in range(n)]
