"""The bar codec: one byte form for the cache, the sandbox pipe and the data fingerprint."""

from __future__ import annotations

import contextlib
import hashlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from backtesting.engine.barcodec import (
    COLUMNS,
    BarCodecError,
    BarColumns,
    decode_bars,
    encode_bars,
    fingerprint_bars,
)

FLOATS = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64)


@st.composite
def bar_columns(draw: st.DrawFn, symbol: str) -> BarColumns:
    n = draw(st.integers(0, 20))
    floats = [
        draw(hnp.arrays(np.float64, n, elements=FLOATS | st.sampled_from([-0.0, np.nan])))
        for _ in range(5)
    ]
    return BarColumns(symbol, draw(hnp.arrays(np.int64, n)), *floats)


@st.composite
def bar_sets(draw: st.DrawFn) -> tuple[str, dict[str, BarColumns]]:
    text = st.text(st.characters(codec="utf-8"), max_size=12)
    symbols = draw(st.lists(text, max_size=4, unique=True))
    return draw(text), {symbol: draw(bar_columns(symbol)) for symbol in symbols}


def small_set() -> dict[str, BarColumns]:
    floats = [np.array([1.5, -0.0, np.nan]) for _ in range(5)]
    return {"AAA": BarColumns("AAA", np.array([1, 2, 3], dtype=np.int64), *floats)}


@settings(max_examples=200, deadline=None)
@given(bar_sets())
def test_any_columns_round_trip_bit_for_bit(case: tuple[str, dict[str, BarColumns]]) -> None:
    timeframe, bars = case
    decoded_timeframe, decoded = decode_bars(encode_bars(timeframe, bars))
    assert decoded_timeframe == timeframe
    assert list(decoded) == list(bars)  # the order is kept: a backtest's symbol order matters
    for symbol, series in bars.items():
        for name, dtype in COLUMNS:
            got = getattr(decoded[symbol], name)
            assert got.dtype == np.dtype(dtype)
            # Bytes, not values: NaN payloads and -0.0 must survive too.
            assert got.tobytes() == getattr(series, name).tobytes()


def test_the_documented_layout_byte_for_byte() -> None:
    ts, value = np.array([7], dtype="<i8"), np.array([0.5], dtype="<f8")
    bars = {"AB": BarColumns("AB", ts, *(value for _ in range(5)))}
    expected = (
        b"TPBA" + struct.pack("<HHII", 2, 0, 1, 2) + b"1d" + bytes(6)
        + struct.pack("<QII", 1, 2, 0) + b"AB" + bytes(6)
        + ts.tobytes() + value.tobytes() * 5
    )  # fmt: skip
    assert encode_bars("1d", bars) == expected


def test_the_fingerprint_is_sha256_of_exactly_the_encoded_bytes() -> None:
    bars = small_set()
    assert fingerprint_bars("1d", bars) == hashlib.sha256(encode_bars("1d", bars)).hexdigest()


def test_any_difference_in_the_inputs_changes_the_fingerprint() -> None:
    bars = small_set()
    base = fingerprint_bars("1d", bars)
    zero = BarColumns("AAA", bars["AAA"].timestamps, *([np.array([1.5, 0.0, np.nan])] * 5))
    other_symbol = BarColumns("AAB", *(bars["AAA"].columns().values()))
    assert fingerprint_bars("1h", bars) != base
    assert fingerprint_bars("1d", {"AAB": other_symbol}) != base
    assert fingerprint_bars("1d", {"AAA": zero}) != base  # -0.0 is not 0.0 here
    assert fingerprint_bars("1d", {}) != fingerprint_bars("", {})


def test_decoded_columns_can_never_be_made_writable() -> None:
    _, decoded = decode_bars(encode_bars("1d", small_set()))
    for array in decoded["AAA"].columns().values():
        with pytest.raises(ValueError):
            array.setflags(write=True)


def test_every_truncation_is_a_clear_error() -> None:
    payload = encode_bars("1d", small_set())
    for size in range(len(payload)):
        with pytest.raises(BarCodecError, match=r"truncated|trailing"):
            decode_bars(payload[:size])


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda p: b"\x80\x04" + p[2:], "bad magic"),
        (lambda p: p[:4] + struct.pack("<H", 1) + p[6:], "version 1 is not supported"),
        (lambda p: p[:4] + struct.pack("<H", 3) + p[6:], "version 3 is not supported"),
        (lambda p: p + b"\0", "trailing bytes"),
        (lambda p: p[:18] + b"x" + p[19:], "padding is corrupt"),
        (lambda p: p[:24] + struct.pack("<Q", 2**63) + p[32:], "claims"),
        (lambda p: p[:40] + b"\xff" + p[41:], "not UTF-8"),
        (lambda p: p[:8] + struct.pack("<I", 2) + p[12:], "truncated"),
        (bytearray, "is bytes"),
    ],
)
def test_a_foreign_old_or_corrupt_payload_is_refused_with_a_reason(corrupt, message) -> None:
    with pytest.raises(BarCodecError, match=message):
        decode_bars(corrupt(encode_bars("1d", small_set())))


def test_the_old_cache_layout_is_refused_not_misread() -> None:
    # Version 1: magic, version, row count, then the columns (no symbol, no timeframe).
    old = struct.pack("<4sHQ", b"TPBA", 1, 1) + bytes(48)
    with pytest.raises(BarCodecError, match="version 1"):
        decode_bars(old)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_bytes_decode_or_raise_bar_codec_error_never_anything_else(data) -> None:
    payload = bytearray(encode_bars("1d", small_set()))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(payload) - 1))
        payload[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(payload)))
    with contextlib.suppress(BarCodecError):
        decode_bars(bytes(payload[:cut]))


def test_columns_of_different_lengths_cannot_be_encoded() -> None:
    ts = np.array([1, 2], dtype=np.int64)
    bad = BarColumns("AAA", ts, *(np.array([1.0]) for _ in range(5)))
    with pytest.raises(BarCodecError, match="different length"):
        encode_bars("1d", {"AAA": bad})
