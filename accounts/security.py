"""Failed sign-ins: security log, Prometheus counter and temporary lockout.

After LOGIN_LOCKOUT_FAILURES failures within LOGIN_LOCKOUT_SECONDS, for one account or
from one IP, sign-in is refused for LOGIN_LOCKOUT_SECONDS (even with the right password),
which turns an online guessing attack into years. The account is the one the typed name
resolves to, so its username and email in any case share one counter and one lock; a
name that matches no account counts under a hash of itself. Locking per account lets an
attacker lock a victim out for a while; that is the accepted price (operators can clear
it with `login_lockout_clear`). Counters live in the shared cache; if it is down, sign-in
fails closed (DependencyUnavailableError, 503).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from prometheus_client import Counter

from accounts.errors import AccountLockedError
from accounts.models import User
from tradeplatform.errors import DependencyUnavailableError

security_logger = logging.getLogger("tradeplatform.security")

LOGIN_FAILURES = Counter(
    "tradeplatform_login_failures_total", "Failed sign-in attempts.", ["reason"]
)
LOGIN_LOCKOUTS = Counter("tradeplatform_login_lockouts_total", "Sign-in lockouts started.")


@dataclass(frozen=True)
class LoginAttempt:
    """Who is trying to sign in: the name as typed, the client IP and the account's key."""

    login: str
    ip: str
    account_key: str

    @classmethod
    def of(cls, login: str, ip: str) -> LoginAttempt:
        return cls(login=login, ip=ip, account_key=_account_key(login))

    @property
    def subjects(self) -> list[str]:
        return [self.account_key, f"login:ip:{self.ip}"]


def _account_key(login: str) -> str:
    # Keyed on the account, not the spelling: otherwise a lock on "victim" would leave
    # "victim@example.com" and "VICTIM" with fresh budgets (and the right password works).
    user_id = User.objects.for_login(login).values_list("pk", flat=True).first()
    if user_id is not None:
        return f"login:user:{user_id}"
    # Hash unknown names so arbitrary user input never becomes part of a cache key verbatim.
    digest = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
    return f"login:name:{digest}"


def _unavailable(exc: Exception) -> DependencyUnavailableError:
    security_logger.warning(
        "lockout store unavailable; refusing sign-in", extra={"error": repr(exc)}
    )
    return DependencyUnavailableError("Sign-in is temporarily unavailable; try again shortly.")


def _count(key: str, window: int) -> int:
    # incr is atomic on Redis; a missing key starts the window. (No add(key, 0): the
    # Prometheus-wrapped caches turn a stored 0 into a miss.)
    try:
        return int(cache.incr(key))
    except ValueError:
        cache.set(key, 1, timeout=window)
        return 1


def login_lockout_check(attempt: LoginAttempt) -> None:
    """Raise AccountLockedError (429 + Retry-After) while the account or the IP is locked."""
    try:
        locks = cache.get_many([f"lock:{s}" for s in attempt.subjects])
    except Exception as exc:
        raise _unavailable(exc) from exc
    now = time.time()
    until = max((float(v) for v in locks.values()), default=0.0)
    if until > now:
        raise AccountLockedError(retry_after=max(1, math.ceil(until - now)))


def login_failure_record(attempt: LoginAttempt, reason: str) -> None:
    """Log the failure (never the password), count it, and lock when over the threshold."""
    LOGIN_FAILURES.labels(reason).inc()
    security_logger.warning(
        "sign-in failed",
        extra={
            "event": "login_failed",
            "login": attempt.login[:150],
            "client_ip": attempt.ip,
            "reason": reason,
        },
    )
    window = settings.LOGIN_LOCKOUT_SECONDS
    try:
        for subject in attempt.subjects:
            key = f"fail:{subject}"
            if _count(key, window) >= settings.LOGIN_LOCKOUT_FAILURES:
                cache.set(f"lock:{subject}", time.time() + window, timeout=window)
                cache.delete(key)
                LOGIN_LOCKOUTS.inc()
                security_logger.warning(
                    "sign-in locked", extra={"event": "login_locked", "subject": subject}
                )
    except Exception as exc:
        raise _unavailable(exc) from exc


def login_success_record(attempt: LoginAttempt) -> None:
    # Only the account's counter: a shared office IP keeps its history of others' failures.
    # A stale counter if the cache is down only makes a lockout come sooner.
    with contextlib.suppress(Exception):
        cache.delete(f"fail:{attempt.account_key}")


def login_lockout_clear(login: str, ip: str = "") -> None:
    """Lift the lock of the account `login` names (any alias) and, if given, of `ip`."""
    subjects = LoginAttempt.of(login, ip).subjects
    cache.delete_many([f"{p}:{s}" for s in subjects for p in ("fail", "lock")])
