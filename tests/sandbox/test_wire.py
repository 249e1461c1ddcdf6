"""The byte formats between worker and child: raw arrays in, bounded JSON lines out."""

from __future__ import annotations

import hashlib
import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtesting.engine.barcodec import BarCodecError, encode_bars, fingerprint_bars
from backtesting.sandbox.wire import (
    MAGIC,
    decode_payload,
    encode_message,
    encode_payload,
    iter_messages,
)
from tests.sandbox.conftest import make_bars


def test_bars_round_trip_as_read_only_arrays() -> None:
    bars = make_bars(50)
    stream = io.BytesIO(b"".join(encode_payload({"code": "x"}, bars)))
    header, columns = decode_payload(stream)
    assert header["code"] == "x"
    assert header["bars"] == [{"symbol": "AAA", "length": 50}]
    np.testing.assert_array_equal(columns["AAA"]["close"], bars["AAA"].close)
    assert columns["AAA"]["timestamps"].dtype == np.int64
    for array in columns["AAA"].values():
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array.setflags(write=True)


def test_a_truncated_or_foreign_payload_is_refused() -> None:
    payload = b"".join(encode_payload({}, make_bars(10)))
    with pytest.raises(ValueError, match="truncated"):
        decode_payload(io.BytesIO(payload[:-1]))
    with pytest.raises(ValueError, match="magic"):
        decode_payload(io.BytesIO(b"\x80\x04pickle" + payload[len(MAGIC) :]))


def test_the_pipe_carries_the_bar_codec_bytes_that_the_fingerprint_hashes() -> None:
    bars = {**make_bars(30), **make_bars(20, symbol="BBB")}
    chunks = encode_payload({"code": "x"}, bars, timeframe="1d")
    header = json.loads(chunks[2])
    sent = b"".join(chunks[3:])
    assert header["bars_bytes"] == len(sent)
    assert sent == encode_bars("1d", bars)
    assert hashlib.sha256(sent).hexdigest() == fingerprint_bars("1d", bars)


def test_a_corrupt_bar_section_is_refused() -> None:
    chunks = encode_payload({}, make_bars(10))
    damaged = b"".join(chunks[:3]) + b"XXXX" + b"".join(chunks[3:])[4:]
    with pytest.raises(BarCodecError, match="bad magic"):
        decode_payload(io.BytesIO(damaged))


def test_messages_are_json_lines_without_nan() -> None:
    assert encode_message({"type": "progress", "fraction": 0.5}).endswith(b"\n")
    with pytest.raises(ValueError):
        encode_message({"type": "result", "result": {"x": float("nan")}})


def test_only_known_message_types_are_accepted() -> None:
    buffer = bytearray(b'{"type":"progress","fraction":0.1}\n{"type":"progr')
    assert list(iter_messages(buffer)) == [{"type": "progress", "fraction": 0.1}]
    assert buffer == bytearray(b'{"type":"progr')
    for bad in (b'{"type":"exec"}\n', b"[1]\n", b'{"type":"result","x":NaN}\n', b"\x80\n"):
        with pytest.raises(ValueError):
            list(iter_messages(bytearray(bad)))


def test_a_number_that_overflows_to_infinity_is_refused() -> None:
    # Valid JSON, but inf cannot be stored in a jsonb column (the job's metrics).
    for literal in (b"1e999", b"-2E+400", b"1" + b"0" * 400 + b".5", b"9" * 250 + b"e60"):
        with pytest.raises(ValueError):
            list(iter_messages(bytearray(b'{"type":"result","result":{"x":%s}}\n' % literal)))


@settings(max_examples=400, deadline=None)
@given(
    digits=st.integers(1, 420),
    fraction=st.integers(0, 3),
    exponent=st.none() | st.integers(-420, 420),
)  # fmt: skip
def test_a_float_is_accepted_exactly_when_it_is_finite(
    digits: int, fraction: int, exponent: int | None
) -> None:
    # Lines that cannot overflow are parsed by json's C code alone (wire._MAY_OVERFLOW): the
    # verdict and the value must be those of checking every float.
    literal = "7" * digits + ("." + "3" * fraction if fraction else ".0")
    literal += "" if exponent is None else f"e{exponent}"
    line = bytearray(b'{"type":"progress","fraction":%s}\n' % literal.encode())
    if math.isfinite(float(literal)):
        assert list(iter_messages(line)) == [{"type": "progress", "fraction": float(literal)}]
    else:
        with pytest.raises(ValueError):
            list(iter_messages(line))
