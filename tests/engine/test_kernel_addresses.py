"""kernel._ptr hands the kernel each array's data address, whichever way it fetches it (the
buffer protocol for writable C-contiguous arrays, NumPy's ctypes helper for the others)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from backtesting.engine import kernel


def _read_only() -> np.ndarray:
    arr = np.arange(12.0).reshape(3, 4)
    arr.flags.writeable = False
    return arr


ARRAYS: dict[str, Callable[[], np.ndarray]] = {
    "writable float64": lambda: np.arange(10.0),
    "writable 2-D": lambda: np.zeros((3, 4)),
    "writable bool": lambda: np.ones(7, dtype=np.bool_),
    "a view from an offset": lambda: np.arange(10, dtype=np.int64)[3:],
    "a row of a matrix": lambda: np.zeros((3, 4))[1],
    "empty": lambda: np.empty(0),
    "read-only": _read_only,
    "strided": lambda: np.arange(10.0)[::2],
    "transposed": lambda: np.zeros((3, 4)).T,
}


@pytest.mark.parametrize("name", ARRAYS)
def test_an_array_is_addressed_at_its_first_element_whatever_its_flags(name: str) -> None:
    arr = ARRAYS[name]()
    assert kernel._ptr(arr) == arr.__array_interface__["data"][0]
