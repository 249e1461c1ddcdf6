"""A test-only Celery app: our real app, with the bars selector failing like a sick database.

Started by tests as `celery -A tests.integration.faulty_worker worker ...`; production code
has no fault hook. In every pool process the selector raises django.db.OperationalError:
- for a backtest on a symbol starting with "FLAKY", its first two loads (then it recovers);
- for a symbol starting with "DOWN", always.
Everything else (claim, release, retry, backoff, dead letter) is the real code path.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from celery import signals

from tradeplatform.celery import app

__all__ = ["app"]

TRANSIENT_FAILURES = 2


@signals.worker_process_init.connect
def install_database_faults(**kwargs: Any) -> None:
    # Patched in the pool process, after Django is set up there; the failure count lives in
    # that process (the tests run one pool process, so it sees every attempt).
    from django.db import OperationalError

    from backtesting import execution

    real = execution.bars_for_backtest
    failures: Counter[str] = Counter()

    def failing_bars_for_backtest(*, symbols: list[str], **rest: Any) -> Any:
        first = symbols[0]
        if first.startswith("DOWN"):
            raise OperationalError("injected fault: could not connect to server")
        if first.startswith("FLAKY") and failures[first] < TRANSIENT_FAILURES:
            failures[first] += 1
            raise OperationalError("injected fault: server closed the connection unexpectedly")
        return real(symbols=symbols, **rest)

    execution.bars_for_backtest = failing_bars_for_backtest  # type: ignore[assignment]
