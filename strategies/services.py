"""Writes of the strategies app: create, update (new versions), archive and clone.

Every service checks the acting user's role and ownership itself, so the API and the
HTML pages cannot drift apart. Code is validated before anything is written: invalid
code stores nothing and raises StrategyCodeError listing every problem.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.access import has_operator_access, has_role
from accounts.models import Role
from accounts.quotas import QuotaKind, ensure_within_quota, lock_user_for_quota
from strategies.models import Strategy, StrategyVersion, code_sha256
from strategies.validation import Verdict, validate_strategy_code
from tradeplatform.errors import DomainValidationError, PermissionDeniedError

_NAME_TAKEN = "You already have a strategy with this name."


class StrategyCodeError(DomainValidationError):
    """The strategy code breaks the validation policy; details carry every problem."""

    code = "invalid_strategy_code"

    def __init__(self, verdict: Verdict) -> None:
        count = len(verdict.problems)
        super().__init__(
            f"The strategy code has {count} problem{'s' if count != 1 else ''}.",
            details={"problems": [problem.to_dict() for problem in verdict.problems]},
        )
        self.verdict = verdict


def normalise_code(code: str) -> str:
    # Browsers submit textareas with CRLF; the same code must hash the same from any client.
    return code.replace("\r\n", "\n").replace("\r", "\n")


def strategy_code_check(code: str) -> Verdict:
    """Validate code without storing anything.

    Returns the (ok) Verdict with the class name and parameters; raises StrategyCodeError
    when the code has problems.
    """
    verdict = validate_strategy_code(normalise_code(code))
    if not verdict.ok:
        raise StrategyCodeError(verdict)
    return verdict


def strategy_create(
    *, owner: Any, name: str, description: str = "", code: str, shared: bool = False
) -> Strategy:
    """Create a strategy and its version 1.

    Raises PermissionDeniedError (viewers), StrategyCodeError (invalid code),
    DomainValidationError (name taken) or QuotaExceededError (strategy count, 403).
    """
    _ensure_trader(owner)
    code = normalise_code(code)
    verdict = strategy_code_check(code)
    with transaction.atomic():
        # Locking the user serialises concurrent creates, so two requests cannot both
        # pass the count check and exceed the quota together.
        lock_user_for_quota(owner)
        ensure_within_quota(owner, QuotaKind.STRATEGIES, _strategy_count(owner))
        _ensure_name_free(owner, name)
        strategy = _insert(
            Strategy(owner=owner, name=name, description=description, is_shared=shared)
        )
        _version_add(strategy=strategy, code=code, verdict=verdict, author=owner)
    return strategy


def strategy_update(
    *,
    strategy: Strategy,
    user: Any,
    name: str | None = None,
    description: str | None = None,
    code: str | None = None,
    shared: bool | None = None,
) -> StrategyVersion | None:
    """Change a strategy; None leaves a field as it is.

    Code that differs from the latest version's becomes a new version (same code: none).
    Returns the new StrategyVersion, or None when the code did not change. Raises
    PermissionDeniedError, StrategyCodeError or DomainValidationError (name taken).
    """
    _ensure_can_edit(user, strategy)
    verdict = None
    if code is not None:
        code = normalise_code(code)
        verdict = strategy_code_check(code)
    with transaction.atomic():
        # The row lock orders concurrent saves, so version numbers never collide.
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if name is not None and name != locked.name:
            _ensure_name_free(locked.owner, name)
        _apply_fields(locked, name=name, description=description, shared=shared)
        version = None
        if code is not None and verdict is not None and _code_changed(locked, code):
            version = _version_add(strategy=locked, code=code, verdict=verdict, author=user)
        locked.save()  # bumps updated_at
    _copy_fields(locked, strategy)
    return version


def strategy_delete(*, strategy: Strategy, user: Any) -> None:
    """Archive a strategy: it disappears from lists and the API, its name becomes free.

    Its versions are kept (never deleted) because backtests pin them with PROTECT and
    must stay reproducible. Raises PermissionDeniedError.
    """
    _ensure_can_edit(user, strategy)
    strategy.archived_at = timezone.now()
    strategy.is_shared = False
    strategy.save(update_fields=["archived_at", "is_shared", "updated_at"])


def strategy_clone(*, strategy: Strategy, new_owner: Any, name: str | None = None) -> Strategy:
    """Copy the latest version of a strategy the new owner can read into a private one.

    The copy starts at version 1 and remembers the version it came from. Raises
    PermissionDeniedError (viewers, or a private strategy of someone else) and
    QuotaExceededError.
    """
    if not (strategy.is_shared or strategy.owner_id == new_owner.pk) and not (
        has_operator_access(new_owner)
    ):
        raise PermissionDeniedError("Only shared strategies can be cloned.")
    source = strategy.latest_version()
    if source is None:  # pragma: no cover - every strategy is created with version 1
        raise DomainValidationError("This strategy has no version to clone.")
    new_name = name or _free_copy_name(new_owner, strategy.name)
    clone = strategy_create(
        owner=new_owner, name=new_name, description=strategy.description, code=source.code
    )
    clone.cloned_from = source
    clone.save(update_fields=["cloned_from"])
    return clone


# --------------------------------------------------------------------------- helpers


def _ensure_trader(user: Any) -> None:
    if not has_role(user, Role.TRADER):
        raise PermissionDeniedError("Only traders can create or change strategies.")


def _ensure_can_edit(user: Any, strategy: Strategy) -> None:
    _ensure_trader(user)
    if strategy.owner_id != user.pk and not has_operator_access(user):
        raise PermissionDeniedError("Only the owner can change this strategy.")
    if strategy.is_archived:
        raise PermissionDeniedError("This strategy is archived.")


def _strategy_count(owner: Any) -> int:
    # owned_by, never visible_to: an operator's quota counts their own strategies only.
    return Strategy.objects.active().owned_by(owner).count()


def _ensure_name_free(owner: Any, name: str) -> None:
    if Strategy.objects.active().owned_by(owner).filter(name=name).exists():
        raise DomainValidationError(details={"name": [_NAME_TAKEN]})


def _insert(strategy: Strategy) -> Strategy:
    try:
        with transaction.atomic():  # a savepoint: the outer transaction stays usable
            strategy.save()
    except IntegrityError as exc:  # lost a race with a concurrent create of the same name
        raise DomainValidationError(details={"name": [_NAME_TAKEN]}) from exc
    return strategy


def _free_copy_name(owner: Any, name: str) -> str:
    taken = set(
        Strategy.objects.active()
        .owned_by(owner)
        .filter(name__startswith=name)
        .values_list("name", flat=True)
    )
    candidates = [name] + [f"{name} (copy)"] + [f"{name} (copy {n})" for n in range(2, 1000)]
    return next(candidate[:100] for candidate in candidates if candidate[:100] not in taken)


def _apply_fields(
    strategy: Strategy, *, name: str | None, description: str | None, shared: bool | None
) -> None:
    if name is not None:
        strategy.name = name
    if description is not None:
        strategy.description = description
    if shared is not None:
        strategy.is_shared = shared


def _copy_fields(source: Strategy, target: Strategy) -> None:
    for field in ("name", "description", "is_shared", "updated_at"):
        setattr(target, field, getattr(source, field))


def _code_changed(strategy: Strategy, code: str) -> bool:
    latest = strategy.latest_version()
    return latest is None or latest.code_sha256 != code_sha256(code)


def _version_add(
    *, strategy: Strategy, code: str, verdict: Verdict, author: Any
) -> StrategyVersion:
    current = strategy.versions.aggregate(highest=Max("number"))["highest"] or 0
    return StrategyVersion.objects.create(
        strategy=strategy,
        number=current + 1,
        code=code,
        code_sha256=code_sha256(code),
        parameters=[parameter.to_dict() for parameter in verdict.parameters],
        class_name=verdict.class_name or "",
        author=author,
    )
