"""The simulated clients of a load run: traders reading the API and a steady stream of launches.

Started by benchmarks/load/run.py as `locust --headless`; never imports Django (locust patches
the standard library with gevent). Each simulated trader is one account from the file named by
LOAD_PLAN and comes from its own client address (X-Forwarded-For through the one trusted
proxy hop the run configures), so per-IP and per-user rate limits see one client each, as they
would in production.

Every response is classified here: 2xx is a success, 429 is counted as "rate limited" (it
must carry Retry-After), anything else (above all 5xx) is a failure named by its status.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from typing import Any

from locust import FastHttpUser, between, constant_throughput, task

PLAN: dict[str, Any] = json.loads(open(os.environ["LOAD_PLAN"]).read())  # noqa: PTH123, SIM115
_next_trader = itertools.count()
_next_launcher = itertools.count()
_requests_sent = itertools.count(1)


class PlatformClient(FastHttpUser):
    abstract = True
    account: dict[str, Any]

    def sign_in(self, account: dict[str, Any]) -> None:
        self.account = account
        tokens = self._json(
            "POST",
            "/api/v1/auth/token/",
            "auth/token",
            json={
                "username": account["username"],
                "password": account["password"],
            },
        )
        self.access, self.refresh_token = tokens["access"], tokens["refresh"]

    def _json(self, method: str, path: str, name: str, **kwargs: Any) -> Any:
        if next(_requests_sent) > PLAN["max_requests"]:  # the run's bound on requests
            self.environment.runner.quit()
            return None
        headers = {"X-Forwarded-For": self.account["ip"]}
        if getattr(self, "access", None) and not path.startswith("/api/v1/auth/token"):
            headers["Authorization"] = f"Bearer {self.access}"
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kwargs
        ) as response:
            status = response.status_code
            if 200 <= status < 300:
                response.success()
                return response.json() if response.content else None
            if status == 429:
                if not response.headers.get("Retry-After"):
                    response.failure("429 without Retry-After")
                else:
                    response.failure("429 rate limited")
                return None
            response.failure(f"HTTP {status}")
            return None


class Trader(PlatformClient):
    """Reads what a quant reads all day: lists, a backtest, its trades and curves, bars."""

    weight = 10
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        traders = PLAN["traders"]
        self.sign_in(traders[next(_next_trader) % len(traders)])

    @task(8)
    def strategies_list(self) -> None:
        self._json("GET", "/api/v1/strategies/", "strategies list")

    @task(4)
    def strategy_detail(self) -> None:
        self._json("GET", f"/api/v1/strategies/{self.account['strategy']}/", "strategy detail")

    @task(8)
    def backtests_list(self) -> None:
        self._json("GET", "/api/v1/backtests/", "backtests list")

    @task(6)
    def backtest_detail(self) -> None:
        self._json("GET", f"/api/v1/backtests/{self.account['backtest']}/", "backtest detail")

    @task(3)
    def backtest_trades(self) -> None:
        path = f"/api/v1/backtests/{self.account['backtest']}/trades/"
        self._json("GET", path, "backtest trades")

    @task(3)
    def backtest_equity(self) -> None:
        path = f"/api/v1/backtests/{self.account['backtest']}/equity/"
        self._json("GET", path, "backtest equity series")

    @task(4)
    def bars(self) -> None:
        symbol = random.choice(PLAN["symbols"])
        path = f"/api/v1/marketdata/instruments/{symbol}/bars/?timeframe=1d&limit=500"
        self._json("GET", path, "instrument bars")

    @task(2)
    def me(self) -> None:
        self._json("GET", "/api/v1/auth/me/", "auth/me")

    @task(1)
    def refresh(self) -> None:
        tokens = self._json(
            "POST",
            "/api/v1/auth/token/refresh/",
            "auth/token/refresh",
            json={"refresh": self.refresh_token},
        )
        if tokens:
            self.access = tokens["access"]
            self.refresh_token = tokens.get("refresh", self.refresh_token)


class Launcher(PlatformClient):
    """Launches backtests (and now and then a small sweep) at a steady rate, whatever the
    number of readers, so completion lag shows what the readers' load does to the workers."""

    fixed_count = int(PLAN["launchers"])
    wait_time = constant_throughput(float(PLAN["launches_per_second_each"]))

    def on_start(self) -> None:
        launchers = PLAN["launchers_accounts"]
        self.sign_in(launchers[next(_next_launcher) % len(launchers)])
        self.launches = 0

    @task
    def launch(self) -> None:
        self.launches += 1
        if PLAN["sweep_every"] and self.launches % PLAN["sweep_every"] == 0:
            self._json(
                "POST",
                "/api/v1/optimizations/",
                "optimizations create",
                json=PLAN["sweep_body"] | {"strategy": self.account["strategy"]},
            )
            return
        self._json(
            "POST",
            "/api/v1/backtests/",
            "backtests create",
            json=PLAN["backtest_body"] | {"strategy": self.account["strategy"]},
        )
