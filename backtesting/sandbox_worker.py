"""The sandbox's zygote follows the Celery pool processes (backtesting/sandbox/zygote.py).

Each pool process starts its zygote as it starts, so the first backtest it runs pays no
interpreter start-up, and stops it as it ends, leaving no jailed process behind. Connected from
BacktestingConfig.ready() (the platform package imports no app); a sandbox caller outside
Celery (tests, management commands) starts a zygote on its first job instead.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from backtesting.sandbox.zygote import zygote_start, zygote_stop


def start_sandbox_zygote(**kwargs: Any) -> None:
    zygote_start()


def stop_sandbox_zygote(**kwargs: Any) -> None:
    zygote_stop()


def sandbox_worker_hooks_connect() -> None:
    """Idempotent: the same receivers are connected once, whatever calls this again."""
    signals.worker_process_init.connect(start_sandbox_zygote, dispatch_uid="sandbox-zygote-start")
    signals.worker_process_shutdown.connect(stop_sandbox_zygote, dispatch_uid="sandbox-zygote-stop")
