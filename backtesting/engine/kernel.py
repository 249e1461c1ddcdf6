"""The compiled kernel (kernel.c, built by ``make install``) as typed Python functions.

``KERNEL`` is the loaded kernel, or None when the library is missing or unusable; then the
engine runs its pure-Python reference path (same results, slower) and says so once in the
log. The library is loaded with ctypes at import, so a worker or sandbox child that imports
the engine pays a dlopen (well under a millisecond) and no compilation ever: it is compiled
ahead of time at install. ``TP_REQUIRE_KERNEL=1`` makes a missing kernel an error instead
(CI sets it, so a build that lost the kernel cannot pass unnoticed).

The arrays handed over must be C-contiguous and of the dtype named in each signature; the
callers below allocate every output themselves, so the C side never sees a foreign buffer.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

LIBRARY = Path(__file__).with_name("libkernel.so")
REQUIRE_ENV = "TP_REQUIRE_KERNEL"
SWITCH_ENV = "TP_KERNEL"

# kernel.c's return codes and fate codes (keep in step with its #defines).
OK, UNSUPPORTED, FALLBACK, RESIZE, CAPACITY = range(5)
FATE_FILLED, FATE_NO_POSITION, FATE_ZERO_SIZE, FATE_BELOW_MINIMUM, FATE_NO_FUNDS = range(5)
FATE_FLIPPED = 8

_P = ctypes.c_void_p
_I64 = ctypes.c_int64
_F64 = ctypes.c_double


class KernelMissing(RuntimeError):
    """The kernel is required here (TP_REQUIRE_KERNEL=1) but could not be loaded."""


@dataclass(frozen=True)
class Walk:
    """tp_walk_orders' output: fills in booking order (closing ones as ~order) and fates."""

    status: int
    fill_order: np.ndarray
    fill_units: np.ndarray
    fill_fee: np.ndarray
    fill_cash: np.ndarray
    fate: np.ndarray
    fate_a: np.ndarray
    fate_b: np.ndarray
    units: np.ndarray


# tp_signal_core's arrays in its argument order after the scalars and the inputs: name, kind
# (int64, float64 or byte) and length as (per change slot, per symbol, per bar, constant).
# Fills and position events take two slots per change (a flip fills twice), trades one.
_CORE_ARRAYS: tuple[tuple[str, str, tuple[int, int, int, int]], ...] = (
    ("sym", "i", (1, 0, 0, 0)),
    ("bar", "i", (1, 0, 0, 0)),
    ("target", "f", (1, 0, 0, 0)),
    ("old", "f", (1, 0, 0, 0)),
    ("price", "f", (1, 0, 0, 0)),
    ("buy", "f", (1, 0, 0, 0)),
    ("sell", "f", (1, 0, 0, 0)),
    ("units", "f", (0, 1, 0, 0)),
    ("held", "i", (0, 1, 0, 0)),
    ("fill_order", "i", (2, 0, 0, 0)),
    ("fill_units", "f", (2, 0, 0, 0)),
    ("fill_fee", "f", (2, 0, 0, 0)),
    ("fill_cash", "f", (2, 0, 0, 0)),
    ("fate", "b", (1, 0, 0, 0)),
    ("fate_a", "f", (1, 0, 0, 0)),
    ("fate_b", "f", (1, 0, 0, 0)),
    ("closing", "b", (2, 0, 0, 0)),
    ("fill_bar", "i", (2, 0, 0, 0)),
    ("fill_price", "f", (2, 0, 0, 0)),
    ("pos_start", "i", (0, 1, 0, 1)),
    ("pos_bars", "i", (2, 0, 0, 0)),
    ("pos_values", "f", (2, 0, 0, 0)),
    ("last_fill", "i", (0, 1, 0, 0)),
    ("trade_size", "f", (1, 1, 0, 0)),
    ("trade_entry_price", "f", (1, 1, 0, 0)),
    ("trade_exit_price", "f", (1, 1, 0, 0)),
    ("trade_commission", "f", (1, 1, 0, 0)),
    ("trade_entry_bar", "i", (1, 1, 0, 0)),
    ("trade_exit_bar", "i", (1, 1, 0, 0)),
    ("trade_open", "b", (1, 1, 0, 0)),
    ("complete", "b", (0, 1, 0, 0)),
    ("held_units", "f", (0, 1, 0, 0)),
    ("equity", "f", (0, 0, 1, 0)),
    ("cash", "f", (0, 0, 1, 0)),
    ("exposure", "f", (0, 0, 1, 0)),
)
_KINDS = {"i": (0, 8), "f": (1, 8), "b": (2, 1)}  # CoreOutput view index, item size
PARAMS = 11  # kernel.c's P_COUNT: the numbers arraypath.walk_params lays out
# tp_signal_core's counters (its C_* enum).
C_CHANGES, C_LIVE, C_FILLS, C_TRADES, C_CLOSED = range(5)
_Counts = ctypes.c_int64 * 5
_ColumnStats = ctypes.c_double * 3  # tp_signal_column's (NaN count, min, max)
_LINE = 64  # bytes
_AT = ctypes.c_char * 0  # a view of no length: from_buffer takes any writable buffer


@functools.lru_cache(maxsize=64)
def _core_layout(
    capacity: int, n_sym: int, n_bars: int
) -> tuple[int, tuple[int, ...], dict[str, tuple[int, int]]]:
    """Where each of tp_signal_core's arrays lies in one buffer of float64 words: the
    buffer's length, the byte offset per argument, (view, first item) per name."""
    used = 0  # bytes
    offsets, views = [], {}
    for name, kind, (per_slot, per_sym, per_bar, const) in _CORE_ARRAYS:
        view, size = _KINDS[kind]
        length = per_slot * capacity + per_sym * n_sym + per_bar * n_bars + const
        # Each array starts on a fresh 64-byte line, so no two share a cache line.
        start = -(-used // _LINE) * _LINE
        offsets.append(start)
        views[name] = (view, start // size)
        used = start + length * size
    return -(-used // 8), tuple(offsets), views


def _ptr(arr: Any) -> int:
    """The address of an ndarray's data (the callers pass only arrays they allocated or
    checked to have the right dtype and layout).

    The callers fetch as few addresses as they can: on a short run they are a good part of
    the overhead. NumPy's ``arr.ctypes.data`` (and ``__array_interface__``) build Python
    objects for each one (~1.5 us here); the buffer protocol hands out a C-contiguous,
    writable array's address for a third of that, and refuses the others (read-only bars,
    strided columns), which take NumPy's way.
    """
    flags = arr.flags
    if flags.writeable and flags.c_contiguous:
        return ctypes.addressof(_AT.from_buffer(arr))
    return arr.ctypes.data


class CoreOutput:
    """What tp_signal_core returned: its status, its counters and its arrays, read with
    ``take`` (only the part a counter says is used, so nothing is sliced twice)."""

    __slots__ = ("_views", "_where", "counts", "status")

    def __init__(
        self,
        status: int,
        counts: list[int],
        views: tuple[np.ndarray, ...],
        where: dict[str, tuple[int, int]],
    ) -> None:
        self.status, self.counts, self._views, self._where = status, counts, views, where

    def take(self, name: str, length: int) -> np.ndarray:
        view, start = self._where[name]
        return self._views[view][start : start + length]


class Kernel:
    """The library's entry points; see kernel.c for the Python each one ports."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._walk = lib.tp_walk_orders
        self._walk.restype = ctypes.c_int
        self._walk.argtypes = [_I64, _I64, _I64, *[_P] * 18]
        self._curve = lib.tp_build_curve
        self._curve.restype = None
        self._curve.argtypes = [_I64, _I64, _P, _P, _I64, _F64, *[_P] * 10]
        self._column = lib.tp_signal_column
        self._column.restype = None
        self._column.argtypes = [_I64, _P, _I64, _P, _P]
        self._changes = lib.tp_target_changes
        self._changes.restype = _I64
        self._changes.argtypes = [_I64, _I64, _P, _I64, _I64, _P, _P, _P, _P]
        self._zero_nans = lib.tp_zero_nans
        self._zero_nans.restype = None
        self._zero_nans.argtypes = [_I64, _P]
        self._core = lib.tp_signal_core
        self._core.restype = ctypes.c_int
        self._core.argtypes = [
            *(_I64, _I64, _P, _I64, _I64, _P, _P, _P),
            *[_F64] * PARAMS,
            _P,  # the counters
            *[_P] * len(_CORE_ARRAYS),
        ]
        self._drawdowns = lib.tp_drawdowns
        self._drawdowns.restype = None
        self._drawdowns.argtypes = [_I64, _P, _P, _P]
        self._longest_drawdown = lib.tp_longest_drawdown
        self._longest_drawdown.restype = _I64
        self._longest_drawdown.argtypes = [_I64, _P, _P]
        self._sma = lib.tp_sma
        self._sma.restype = ctypes.c_int
        self._sma.argtypes = [_I64, _P, _I64, _P, _P]

    def walk_orders(
        self,
        sym: np.ndarray,
        bar: np.ndarray,
        target: np.ndarray,
        price: np.ndarray,
        buy: np.ndarray,
        sell: np.ndarray,
        open_: np.ndarray,
        params: np.ndarray,
    ) -> Walk:
        """Orders (int64 sym/bar, float64 target/prices) against float64 open (n_sym, n)."""
        n, (n_sym, n_bars) = len(sym), open_.shape
        units = np.zeros(n_sym)
        held = np.empty(n_sym, dtype=np.int64)
        fill_order = np.empty(2 * n, dtype=np.int64)
        fill_units, fill_fee, fill_cash = np.empty(2 * n), np.empty(2 * n), np.empty(2 * n)
        n_fills = np.zeros(1, dtype=np.int64)
        fate = np.empty(n, dtype=np.int8)
        fate_a, fate_b = np.zeros(n), np.zeros(n)
        status = self._walk(
            n,
            n_sym,
            n_bars,
            *map(_ptr, (sym, bar, target, price, buy, sell, open_, params, units, held)),
            *map(_ptr, (fill_order, fill_units, fill_fee, fill_cash, n_fills)),
            *map(_ptr, (fate, fate_a, fate_b)),
        )
        m = int(n_fills[0])
        return Walk(
            status,
            fill_order[:m],
            fill_units[:m],
            fill_fee[:m],
            fill_cash[:m],
            fate,
            fate_a,
            fate_b,
            units,
        )

    def build_curve(
        self,
        cash_bars: np.ndarray,
        cash_values: np.ndarray,
        initial_cash: float,
        pos_start: np.ndarray,
        pos_bars: np.ndarray,
        pos_values: np.ndarray,
        close: np.ndarray,
        complete: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(equity, cash, exposure) per bar from int64 bars / float64 values step events."""
        n_sym, n_bars = close.shape
        equity, cash, exposure = np.empty(n_bars), np.empty(n_bars), np.empty(n_bars)
        cursor, held = np.empty(n_sym, dtype=np.int64), np.empty(n_sym)
        self._curve(
            n_bars,
            n_sym,
            _ptr(cash_bars),
            _ptr(cash_values),
            len(cash_bars),
            initial_cash,
            *map(_ptr, (pos_start, pos_bars, pos_values, close, complete, cursor, held)),
            *map(_ptr, (equity, cash, exposure)),
        )
        return equity, cash, exposure

    def signal_column(self, x: np.ndarray, row: np.ndarray) -> tuple[int, float, float]:
        """Copy float64 ``x`` (any stride) into contiguous ``row``; (NaN count, min, max of
        the rest) on the way ((n, inf, -inf) if every value is NaN)."""
        stats = _ColumnStats()  # a ctypes array: no address to fetch, floats read as they are
        stride = x.strides[0] // x.itemsize if len(x) else 1
        if x.strides[0] % x.itemsize:
            x = np.ascontiguousarray(x)
            stride = 1
        self._column(len(x), _ptr(x), stride, _ptr(row), stats)
        nans, lo, hi = stats
        return int(nans), lo, hi

    def target_changes(
        self, targets: np.ndarray, start: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(symbol, bar, new, old) of each change of float64 targets (n_sym, n) from ``start``."""
        n_sym, n_bars = targets.shape
        # Room for a change every 8th cell; the rare run with more is walked again.
        capacity = (n_sym * n_bars) // 8 + 64
        while True:
            sym, bar = np.empty(capacity, dtype=np.int64), np.empty(capacity, dtype=np.int64)
            new, old = np.empty(capacity), np.empty(capacity)
            m = self._changes(
                n_sym, n_bars, _ptr(targets), start, capacity, *map(_ptr, (sym, bar, new, old))
            )
            if m <= capacity:
                return sym[:m], bar[:m], new[:m], old[:m]
            capacity = m

    def signal_core(
        self,
        targets: np.ndarray,
        start: int,
        open_: np.ndarray,
        close: np.ndarray,
        has_bar: np.ndarray,
        params: tuple[float, ...],
    ) -> CoreOutput:
        """tp_signal_core on C-contiguous float64 targets, open and close and bool has_bar
        (n_sym, n_bars), with walk_params' numbers."""
        n_sym, n_bars = targets.shape
        # Room for a change every 8th cell, as in target_changes; the rare run with more
        # goes through the stages (TP_CAPACITY).
        capacity = (n_sym * n_bars) // 8 + 64
        words, offsets, where = _core_layout(capacity, n_sym, n_bars)
        # One allocation and one address for all 35 outputs (an address costs more than
        # the allocation); the int64 and byte arrays are views of the same words.
        buffer = np.empty(words)
        base = _ptr(buffer)
        # The counters in a ctypes array: read as Python ints without a NumPy conversion.
        counts = _Counts()
        status = self._core(
            n_sym,
            n_bars,
            _ptr(targets),
            start,
            capacity,
            _ptr(open_),
            _ptr(close),
            _ptr(has_bar),
            *params,
            counts,
            *[base + offset for offset in offsets],
        )
        views = (buffer.view(np.int64), buffer, buffer.view(np.bool_))
        return CoreOutput(status, counts[:], views, where)

    def zero_nans(self, x: np.ndarray) -> None:
        """NaN -> 0.0 in place in a C-contiguous float64 array."""
        self._zero_nans(x.size, _ptr(x))

    def drawdowns(self, equity: np.ndarray, series: bool, window: bool) -> list[np.ndarray]:
        """[equity / running peak - 1] and/or [the same, NaN where the peak is not > 0]."""
        n = len(equity)
        outs = [np.empty(n) if wanted else None for wanted in (series, window)]
        self._drawdowns(n, _ptr(equity), *(None if o is None else _ptr(o) for o in outs))
        return [o for o in outs if o is not None]

    def sma(self, x: np.ndarray, period: int) -> np.ndarray | None:
        """indicators.sma of a C-contiguous float64 ``x`` for 1 <= period <= len(x); None when
        ``x`` holds a NaN or an infinity (the NumPy path masks those)."""
        n = len(x)
        out, sums = np.empty(n), np.empty(n + 1)
        if self._sma(n, _ptr(x), period, _ptr(sums), _ptr(out)):
            return None
        return out

    def longest_drawdown(self, dd: np.ndarray, timestamps: np.ndarray) -> int:
        """The longest drawdown episode in ns (-1: none) of a C-contiguous float64 drawdown
        series and its C-contiguous int64 timestamps of the same length."""
        return int(self._longest_drawdown(len(dd), _ptr(dd), _ptr(timestamps)))


def load(path: Path = LIBRARY) -> Kernel | None:
    """The kernel at ``path``; None (logged) when it cannot be loaded, unless it is required,
    or when ``TP_KERNEL=off`` asks for the reference path (to measure or rule out the kernel)."""
    if os.environ.get(SWITCH_ENV) == "off":
        logger.warning("%s=off: the engine runs its pure-Python reference path", SWITCH_ENV)
        return None
    try:
        kernel = Kernel(ctypes.CDLL(str(path)))
    except (OSError, AttributeError) as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            raise KernelMissing(f"{path.name} is required ({REQUIRE_ENV}=1): {exc}") from exc
        logger.warning(
            "compiled engine kernel unavailable (%s); using the pure-Python reference path, "
            "same results but slower: run `make install` to build it",
            exc,
        )
        return None
    return kernel


KERNEL: Kernel | None = load()
