"""Stooq's free CSV endpoint for daily bars: /q/d/l/?s=aapl.us&d1=YYYYMMDD&d2=YYYYMMDD&i=d."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.conf import settings

from backtesting.marketdata.errors import ProviderDataError
from backtesting.marketdata.providers.base import BarProvider


class StooqProvider(BarProvider):
    name = "stooq"

    def daily_bars_csv(self, symbol: str, start: date, end: date) -> bytes:
        query = urlencode(
            {
                "s": symbol.lower(),
                "d1": start.strftime("%Y%m%d"),
                "d2": end.strftime("%Y%m%d"),
                "i": "d",
            }
        )
        body = self.get(f"{settings.MARKETDATA_STOOQ_BASE_URL.rstrip('/')}/q/d/l/?{query}")
        return _checked_csv(body, symbol)


def _checked_csv(body: bytes, symbol: str) -> bytes:
    # Stooq answers 200 with the text "No data" for unknown symbols or empty ranges, and has
    # been seen answering HTML error pages with 200: only a CSV header we know counts as data.
    first_line = body.split(b"\n", 1)[0].strip().lower()
    if not first_line.startswith(b"date,open,high,low,close"):
        snippet = body[:60].decode("utf-8", "replace")
        raise ProviderDataError(f"stooq returned no CSV for {symbol!r}: {snippet!r}")
    return body
