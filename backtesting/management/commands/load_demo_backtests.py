"""Run each of a user's strategies once on the demo data, so a newcomer has results to read.

    python manage.py load_demo_backtests --user demo

A strategy that already has a backtest is left alone, so running it again changes nothing.
The runs go through the same submit service and sandboxed execution as any backtest, here in
this process: `make run` loads the demo before its worker starts. The message each submit
publishes is answered by the worker later as a no-op (the row is already finished).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max, Min

from backtesting.execution import backtest_execute
from backtesting.marketdata.models import Bar
from backtesting.models import Backtest
from backtesting.services import BacktestInput, backtest_submit
from strategies.models import Strategy

DEMO_TIMEFRAME = "1d"
# One instrument for single-instrument examples; a portfolio example gets every demo stock.
SINGLE_SYMBOL = "GOOG"
PORTFOLIO_SYMBOLS = ["AAPL", "GOOG", "IBM", "MSFT"]
PORTFOLIO_EXAMPLES = {"Momentum rotation"}
# Costs a professional would not leave at zero: 0.1 % commission, 5 bps slippage per side.
DEMO_SETTINGS = {"initial_cash": 100_000, "costs": {"commission_pct": 0.001, "slippage_bps": 5.0}}


class Command(BaseCommand):
    help = "Run each strategy of a user once on the demo data (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", default="demo", help="username (default: demo)")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f'No user "{username}"; create it first.')
        counts = {"succeeded": 0, "failed": 0, "unchanged": 0}
        for strategy in Strategy.objects.active().owned_by(user).order_by("name"):
            if Backtest.objects.filter(owner=user, strategy_version__strategy=strategy).exists():
                counts["unchanged"] += 1
                continue
            status = self._run(user, strategy)
            counts["succeeded" if status == "succeeded" else "failed"] += 1
        self.stdout.write(
            self.style.SUCCESS(
                f"{username}: {counts['succeeded']} backtests run, {counts['failed']} failed, "
                f"{counts['unchanged']} strategies already had one."
            )
        )

    def _run(self, user: Any, strategy: Strategy) -> str:
        version = strategy.latest_version()
        if version is None:
            return "failed"
        symbols = PORTFOLIO_SYMBOLS if strategy.name in PORTFOLIO_EXAMPLES else [SINGLE_SYMBOL]
        spans = (
            Bar.objects.filter(instrument__symbol__in=symbols, timeframe=DEMO_TIMEFRAME)
            .values("instrument")
            .annotate(first=Min("timestamp"), last=Max("timestamp"))
        )
        if len(spans) != len(symbols):
            return "failed"  # the demo market data is not loaded
        data = BacktestInput(
            strategy_version=version,
            symbols=symbols,
            timeframe=DEMO_TIMEFRAME,
            # The range every instrument covers, so a portfolio starts with all its members.
            start=max(span["first"] for span in spans),
            end=min(span["last"] for span in spans),
            parameters={},
            settings=DEMO_SETTINGS,
        )
        backtest = backtest_submit(owner=user, data=data)
        done = backtest_execute(backtest_id=backtest.pk)
        status = done.status if done is not None else "missing"
        self.stdout.write(f"  {strategy.name} on {', '.join(symbols)}: {status}")
        return status
