"""Convert bokeh-sampledata's daily stock prices into our demo fixtures (run once, by hand).

    .venv/bin/pip install bokeh-sampledata==2026.1
    .venv/bin/python backtesting/marketdata/demo_data/convert.py

Reads bokeh_sampledata/_data/stocks.csv.gz (Quandl WIKI prices, public domain; see docs/data.md)
and writes one gzip CSV per ticker next to this file, in the layout import_bars reads:
Date,Open,High,Low,Close,Volume,Adj Close. Values are copied verbatim (unadjusted OHLCV plus the
source's adjusted close); only the ticker column is dropped. Output is deterministic (mtime 0).
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
HERE = Path(__file__).resolve().parent


def source_path() -> Path:
    import bokeh_sampledata  # only needed for this one-off conversion

    return Path(bokeh_sampledata.__file__).parent / "_data" / "stocks.csv.gz"


def convert(source: Path, target_dir: Path) -> dict[str, int]:
    rows: dict[str, list[list[str]]] = {ticker: [] for ticker in TICKERS}
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if row["Ticker"] in rows:
                rows[row["Ticker"]].append(
                    [
                        row[k]
                        for k in ("Date", "Open", "High", "Low", "Close", "Volume", "Adj Close")
                    ]
                )
    for ticker, data in rows.items():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"])
        writer.writerows(sorted(data))
        out = target_dir / f"{ticker}.csv.gz"
        with (
            out.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        ):
            gz.write(buffer.getvalue().encode())
    return {ticker: len(data) for ticker, data in rows.items()}


if __name__ == "__main__":
    for ticker, count in convert(source_path(), HERE).items():
        print(f"{ticker}: {count} rows")  # noqa: T201
