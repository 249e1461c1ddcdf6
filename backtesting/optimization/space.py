"""Which combinations a sweep runs: the swept axes, grid and random plans, and TPE's ask/tell.

Pure planning over ParameterSpecs (no database): the service validates a request with these and
stores the plan; TPE batches are asked here from the results told back so far. Every plan is
reproducible: a grid is ordered, a random plan and every TPE batch come from the seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from backtesting.engine.research.constraints import (
    Constraint,
    ConstraintError,
    compile_constraint,
    satisfying,
    take_satisfying,
)
from strategies.paramspec import ParameterSpace, ParameterSpec
from strategies.paramspec.spec import MAX_AXIS_VALUES
from tradeplatform.errors import DomainValidationError

# A random plan draws at most this many candidates per wanted combination before it gives up
# on constraints that (almost) nothing satisfies.
CANDIDATES_PER_SAMPLE = 50
TPE_ASKS_PER_TRIAL = 50
Combination = dict[str, Any]


@dataclass(frozen=True)
class SweepSpace:
    """The swept parameters (each a ParameterSpec narrowed to the user's range and step), the
    values of the others, and the constraints compiled once."""

    axes: ParameterSpace
    fixed: dict[str, Any]
    constraints: tuple[Constraint, ...]

    def allows(self, combination: Mapping[str, Any]) -> bool:
        values = {**self.fixed, **combination}
        return all(c(values) for c in self.constraints)


def sweep_space(
    declared: ParameterSpace,
    ranges: Mapping[str, Any],
    fixed: Mapping[str, Any],
    expressions: Sequence[str],
) -> SweepSpace:
    """Narrow each swept parameter to its range; compile the constraints.

    Raises DomainValidationError: details["space"] by parameter, details["constraints"] by
    position with the column of the problem.
    """
    if not isinstance(ranges, Mapping) or not ranges:
        raise DomainValidationError(
            "Choose at least one parameter to sweep.", details={"space": ["No parameter."]}
        )
    by_name = {spec.name: spec for spec in declared.specs}
    problems: dict[str, str] = {}
    axes: list[ParameterSpec] = []
    for name, given in ranges.items():
        spec = by_name.get(name)
        if spec is None:
            problems[str(name)[:100]] = "The strategy declares no such parameter."
            continue
        try:
            axes.append(_axis(spec, given))
        except ValueError as exc:
            problems[name] = str(exc)
    if problems:
        raise DomainValidationError("Some sweep ranges are not valid.", details={"space": problems})
    rest = {k: v for k, v in fixed.items() if k not in ranges}
    return SweepSpace(ParameterSpace(tuple(axes)), rest, _compiled(expressions, declared.names))


def _axis(spec: ParameterSpec, given: Any) -> ParameterSpec:
    if not isinstance(given, Mapping):
        raise ValueError("Give min, max and step (or values).")
    if "values" in given:
        values = given["values"]
        if not isinstance(values, list) or not 1 <= len(values) <= 100:
            raise ValueError("Give 1 to 100 values.")
        checked = tuple(spec.validate(v, integral_floats=True) for v in values)
        return replace(spec, min=None, max=None, step=None, choices=checked)
    if spec.type not in ("int", "float"):
        raise ValueError("A bool or text parameter is swept over a list of values.")
    low, high, step = (_number(given.get(key), key) for key in ("min", "max", "step"))
    if spec.type == "int" and not all(float(x).is_integer() for x in (low, high, step)):
        raise ValueError("An int parameter takes whole numbers.")
    if step <= 0 or low > high:
        raise ValueError("Need min <= max and a step above 0.")
    if (spec.min is not None and low < spec.min) or (spec.max is not None and high > spec.max):
        raise ValueError(f"The range must lie within the declared {spec.min}..{spec.max}.")
    kind = int if spec.type == "int" else float
    axis = replace(spec, min=kind(low), max=kind(high), step=kind(step), choices=None)
    if axis.axis_length() > MAX_AXIS_VALUES:
        raise ValueError(f"At most {MAX_AXIS_VALUES:,} values per parameter.")
    return axis


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key} must be a number.")
    return float(value)


def _compiled(expressions: Sequence[str], names: Sequence[str]) -> tuple[Constraint, ...]:
    compiled, problems = [], {}
    for position, expression in enumerate(expressions):
        try:
            compiled.append(compile_constraint(str(expression), names))
        except ConstraintError as exc:
            problems[str(position)] = {"message": exc.message, "column": exc.column}
    if problems:
        raise DomainValidationError(
            "Some constraints are not valid.", details={"constraints": problems}
        )
    return tuple(compiled)


def grid_plan(space: SweepSpace, limit: int) -> list[Combination]:
    """Every grid point that satisfies the constraints, in grid order.

    Raises DomainValidationError when more than `limit` would run (or none would).
    """
    if space.axes.grid_size() > limit * CANDIDATES_PER_SAMPLE:
        raise _too_many(space.axes.grid_size(), limit)
    plan = [dict(p) for p in satisfying(space.axes.grid(), [space.allows])]  # type: ignore[list-item]
    if len(plan) > limit:
        raise _too_many(len(plan), limit)
    return _not_empty(plan)


def random_plan(space: SweepSpace, n: int, seed: int, limit: int) -> list[Combination]:
    """The first `n` seeded random points that satisfy the constraints."""
    if not 1 <= n <= limit:
        raise _too_many(n, limit)
    # A seeded sample is a prefix of any longer one with the same seed, so drawing a few
    # candidates first and many only when the constraints reject most gives the same plan.
    for per_sample in (3, CANDIDATES_PER_SAMPLE):
        candidates = space.axes.sample(n * per_sample, seed)
        try:
            taken = take_satisfying(candidates, [space.allows], n)  # type: ignore[list-item]
        except ConstraintError as exc:
            if per_sample == CANDIDATES_PER_SAMPLE:
                raise DomainValidationError(
                    "The constraints leave too few combinations.",
                    details={"constraints": [exc.message]},
                ) from exc
            continue
        return [dict(p) for p in taken]
    raise AssertionError("unreachable")


def _too_many(n: int, limit: int) -> DomainValidationError:
    return DomainValidationError(
        f"This sweep would run {n:,} combinations; at most {limit:,} are allowed.",
        details={"space": [f"At most {limit:,} combinations."]},
    )


def _not_empty(plan: list[Combination]) -> list[Combination]:
    if not plan:
        raise DomainValidationError(
            "No combination satisfies the constraints.",
            details={"constraints": ["No combination satisfies them."]},
        )
    return plan


def tpe_ask(
    space: SweepSpace,
    *,
    seed: int,
    batch: int,
    k: int,
    told: Sequence[tuple[Combination, float | None]],
    direction: str,
) -> list[Combination]:
    """The next `k` combinations Optuna's TPE sampler proposes, given every trial told so far.

    The study is rebuilt from `told` (in combination order; None: a failed or ineligible trial)
    with a sampler seeded by (seed, batch), so batch b is the same whenever it is asked: the
    sweep is reproducible from its seed. Proposals breaking a constraint are told as failed and
    asked again; fewer than `k` come back only when the constraints leave nothing to propose.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {spec.name: _distribution(spec) for spec in space.axes.specs}
    study = optuna.create_study(
        direction="maximize" if direction == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed * 1_000_003 + batch),
    )
    for params, value in told:
        state = optuna.trial.TrialState.COMPLETE if value is not None else None
        study.add_trial(
            optuna.trial.create_trial(
                params=dict(params),
                distributions=distributions,
                value=value,
                state=state or optuna.trial.TrialState.FAIL,
            )
        )
    asked: list[Combination] = []
    for _ in range(k * TPE_ASKS_PER_TRIAL):
        if len(asked) == k:
            break
        trial = study.ask(distributions)
        if space.allows(trial.params):
            asked.append(dict(trial.params))
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return asked


def _distribution(spec: ParameterSpec) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if spec.choices is not None:
        return CategoricalDistribution(list(spec.choices))
    if spec.type == "int":
        return IntDistribution(int(spec.min), int(spec.max), step=int(spec.step or 1))  # type: ignore[arg-type]
    return FloatDistribution(float(spec.min), float(spec.max), step=spec.step)  # type: ignore[arg-type]
