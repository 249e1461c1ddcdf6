"""The job kinds this deployment runs, registered by their apps from `AppConfig.ready()`.

The lifecycle and the recovery sweep know a kind only through its entry: which model holds
its rows, which task (by name, so nothing here imports a tasks module) runs one, and what
happens once a row reaches a final state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backtesting.jobs.fields import JobFields

FinishEffects = Callable[[int, str], None]  # (job id, final status): metrics, notifications
Exhausted = Callable[[int, int], None]  # (job id, attempts): the dead-letter record


@dataclass(frozen=True)
class JobKind:
    """One kind of job: `name` labels logs and the sweep's report; `key_prefix` its cache keys."""

    name: str
    model: type[JobFields]
    task_name: str
    queue: str
    key_prefix: str
    finish_effects: FinishEffects
    exhausted: Exhausted
    # How many of one owner's jobs of this kind may run at once (fairness; 0: no limit). None
    # means BACKTEST_USER_MAX_RUNNING. A kind whose jobs are pieces of one larger job (a
    # sweep's chunks) allows more, or one user's sweep could never use a second worker.
    user_max_running: Callable[[], int] | None = None


_kinds: dict[str, JobKind] = {}


def job_kind_register(kind: JobKind) -> None:
    """Add a kind (idempotent: `ready()` may run more than once in tests)."""
    _kinds[kind.name] = kind


def job_kinds() -> list[JobKind]:
    return list(_kinds.values())


def job_kind_for(model: type[JobFields]) -> JobKind:
    """The registered kind of `model`; raises LookupError for a model no app registered."""
    for kind in _kinds.values():
        if kind.model is model or issubclass(model, kind.model):
            return kind
    raise LookupError(f"{model.__name__} is not a registered job kind (see AppConfig.ready()).")
