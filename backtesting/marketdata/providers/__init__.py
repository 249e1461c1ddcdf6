"""Pluggable sources of bars over HTTP. `get_provider(name)` returns a ready provider."""

from __future__ import annotations

from backtesting.marketdata.providers.base import BarProvider
from backtesting.marketdata.providers.stooq import StooqProvider

PROVIDERS: dict[str, type[BarProvider]] = {StooqProvider.name: StooqProvider}


def get_provider(name: str) -> BarProvider:
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}"
        ) from None


__all__ = ["PROVIDERS", "BarProvider", "get_provider"]
