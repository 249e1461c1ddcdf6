"""Every route of the project with a captured parameter, and the victim's object it names.

An object route maps to the keyword arguments that name one of the victim's objects; the
exempt routes say why their parameter names nothing a user owns. test_ownership fails when
a route with a parameter is in neither, so a new endpoint cannot go untested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.security.routes import Route, project_routes
from tests.security.world import World

Kwargs = Callable[[World], dict[str, Any]]


def _version(world: World, number: int) -> dict[str, Any]:
    return {"pk": world.strategy.pk, "number": number}


# Route pattern -> the victim's object it is about. Cancel routes name a queued job, so a
# missing check would really cancel it; the rest name finished ones.
OBJECT_ROUTES: dict[str, Kwargs] = {
    "api/v1/strategies/<int:pk>/": lambda w: {"pk": w.strategy.pk},
    "api/v1/strategies/<int:pk>/clone/": lambda w: {"pk": w.strategy.pk},
    "api/v1/strategies/<int:pk>/versions/": lambda w: {"pk": w.strategy.pk},
    "api/v1/strategies/<int:pk>/versions/<int:number>/": lambda w: _version(w, 1),
    "api/v1/strategies/<int:pk>/versions/<int:number>/diff/": lambda w: _version(w, 2),
    "api/v1/backtests/<int:pk>/": lambda w: {"pk": w.finished.pk},
    "api/v1/backtests/<int:pk>/equity/": lambda w: {"pk": w.finished.pk},
    "api/v1/backtests/<int:pk>/trades/": lambda w: {"pk": w.finished.pk},
    "api/v1/backtests/<int:pk>/cancel/": lambda w: {"pk": w.queued.pk},
    "api/v1/backtests/<int:pk>/rerun/": lambda w: {"pk": w.finished.pk},
    "api/v1/backtests/<int:pk>/robustness/": lambda w: {"pk": w.finished.pk},
    "api/v1/webhooks/<int:pk>/": lambda w: {"pk": w.webhook.pk},
    "api/v1/webhooks/<int:pk>/deliveries/": lambda w: {"pk": w.webhook.pk},
    "api/v1/robustness/<int:pk>/": lambda w: {"pk": w.robustness_run.pk},
    "api/v1/robustness/<int:pk>/cancel/": lambda w: {"pk": w.robustness_run.pk},
    "api/v1/optimizations/<int:pk>/": lambda w: {"pk": w.optimization.pk},
    "api/v1/optimizations/<int:pk>/results/": lambda w: {"pk": w.optimization.pk},
    "api/v1/optimizations/<int:pk>/cancel/": lambda w: {"pk": w.queued_optimization.pk},
    "api/v1/optimizations/<int:pk>/results/<int:index>/backtest/":
        lambda w: {"pk": w.optimization.pk, "index": w.optimization.best_index},
    "api/v1/walkforwards/<int:pk>/": lambda w: {"pk": w.walkforward.pk},
    "api/v1/walkforwards/<int:pk>/cancel/": lambda w: {"pk": w.queued_walkforward.pk},
    "strategies/<int:pk>/": lambda w: {"pk": w.strategy.pk},
    "strategies/<int:pk>/edit/": lambda w: {"pk": w.strategy.pk},
    "strategies/<int:pk>/delete/": lambda w: {"pk": w.strategy.pk},
    "strategies/<int:pk>/clone/": lambda w: {"pk": w.strategy.pk},
    "strategies/<int:pk>/versions/<int:number>/": lambda w: _version(w, 1),
    "strategies/<int:pk>/versions/<int:number>/diff/": lambda w: _version(w, 2),
    "strategies/<int:pk>/diff/": lambda w: {"pk": w.strategy.pk},
    "backtests/<int:pk>/": lambda w: {"pk": w.finished.pk},
    "backtests/<int:pk>/status.json": lambda w: {"pk": w.finished.pk},
    "backtests/<int:pk>/rerun/": lambda w: {"pk": w.finished.pk},
    "backtests/<int:pk>/cancel/": lambda w: {"pk": w.queued.pk},
    "backtests/<int:pk>/delete/": lambda w: {"pk": w.finished.pk},
    "backtests/<int:pk>/charts.json": lambda w: {"pk": w.finished.pk},
    "backtests/<int:pk>/prices.json": lambda w: {"pk": w.finished.pk},
    "backtests/<int:pk>/equity.csv": lambda w: {"pk": w.finished.pk},
    "research/robustness/backtests/<int:pk>/start/": lambda w: {"pk": w.finished.pk},
    "research/robustness/<int:pk>/": lambda w: {"pk": w.robustness_run.pk},
    "research/robustness/<int:pk>/status/": lambda w: {"pk": w.robustness_run.pk},
    "research/robustness/<int:pk>/cancel/": lambda w: {"pk": w.robustness_run.pk},
    "research/sweeps/<int:pk>/": lambda w: {"pk": w.optimization.pk},
    "research/sweeps/<int:pk>/status.json": lambda w: {"pk": w.optimization.pk},
    "research/sweeps/<int:pk>/cancel/": lambda w: {"pk": w.queued_optimization.pk},
    "research/sweeps/<int:pk>/results/<int:index>/backtest/":
        lambda w: {"pk": w.optimization.pk, "index": w.optimization.best_index},
    "research/walk-forward/<int:pk>/": lambda w: {"pk": w.walkforward.pk},
    "research/walk-forward/<int:pk>/status/": lambda w: {"pk": w.walkforward.pk},
    "research/walk-forward/<int:pk>/cancel/": lambda w: {"pk": w.queued_walkforward.pk},
}  # fmt: skip

# Routes with a parameter that names no user's object, and why.
EXEMPT_ROUTES = {
    "api/v1/instruments/<str:symbol>/": "market data is global (docs/data.md); legacy alias",
    "api/v1/instruments/<str:symbol>/bars/": "market data is global; legacy alias",
    "api/v1/instruments/<str:symbol>/bars/import/": "operators only; legacy alias",
    "api/v1/marketdata/instruments/<str:symbol>/": "market data is global, one copy for all",
    "api/v1/marketdata/instruments/<str:symbol>/bars/": "market data is global",
    "api/v1/marketdata/instruments/<str:symbol>/bars/import/": "operators only (403 for all)",
    "marketdata/<str:symbol>/": "market data is global",
    "marketdata/<str:symbol>/bars.json": "market data is global",
    "api/v1/dead-letters/<int:pk>/requeue/": "operators only: 403 whether the row exists or not",
    "accounts/password/reset/<uidb64>/<token>/": "a signed reset link, not an object id",
    "^admin/backtesting/(?P<model>instrument|bar|seriesversion)/(?P<rest>.*)$":
        "redirect of old admin URLs to the marketdata app's",
}  # fmt: skip

ROUTES = {route.pattern: route for route in project_routes()}
SYMBOL = "AAA"  # the world's instrument, for the market-data routes


def route_path(route: Route, world: World) -> str | None:
    """The route filled with the victim's object, an instrument, or None if it takes none."""
    if route.pattern in OBJECT_ROUTES:
        return route.path(**OBJECT_ROUTES[route.pattern](world))
    if route.parameters == ("symbol",):
        return route.path(symbol=SYMBOL)
    if route.parameters:
        return None
    return route.path()
