"""A backtest's data fingerprint covers exactly the bar bytes its sandbox received."""

from __future__ import annotations

import hashlib
from typing import Any

from backtesting.engine.barcodec import decode_bars
from backtesting.models import BacktestStatus
from backtesting.sandbox import launcher
from tests.backtesting.conftest import execute_job


def test_the_fingerprint_is_sha256_of_the_bar_bytes_sent_to_the_sandbox(
    submit, monkeypatch
) -> None:
    sent: list[bytes] = []
    real_encode = launcher.encode_payload

    def recording_encode(*args: Any, **kwargs: Any) -> list[bytes]:
        chunks = real_encode(*args, **kwargs)
        sent.append(b"".join(chunks[3:]))  # after the magic, the length and the JSON header
        return chunks

    monkeypatch.setattr(launcher, "encode_payload", recording_encode)
    backtest = execute_job(submit().pk)
    assert backtest.status == BacktestStatus.SUCCEEDED, backtest.error_message
    timeframe, bars = decode_bars(sent[0])
    assert timeframe == backtest.timeframe == "1d"
    assert {symbol: len(series) for symbol, series in bars.items()} == {"AAA": 500}
    assert backtest.data_fingerprint == hashlib.sha256(sent[0]).hexdigest()
