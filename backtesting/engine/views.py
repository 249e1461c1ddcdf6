"""Progressive views: the strategy sees only bars up to the current one.

One view object per array is created before the loop; all share a ``Clock`` whose cursor the
engine advances, so the loop allocates nothing per bar and indexing past "now" is impossible.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

# What a view's crossover / crossunder memo is for before its first use (None could be passed).
NO_PARTNER = object()


class Clock:
    """Shared cursor: ``i`` is the index of the current (last revealed) bar."""

    __slots__ = ("i",)

    def __init__(self) -> None:
        self.i = -1


class SeriesView:
    """Read-only window ``array[: clock.i + 1]``; ``view[-1]`` is the current bar.

    Negative indices count back from the current bar; a non-negative index beyond it raises
    IndexError, as does reaching before the first bar.
    """

    __slots__ = ("_array", "_clock", "_down", "_down_with", "_mv", "_name", "_up", "_up_with")

    def __init__(self, array: np.ndarray, clock: Clock, name: str = "") -> None:
        self._array = array
        self._clock = clock
        self._name = name
        # Indexing a memoryview yields a Python scalar about twice as fast as ndarray.item()
        # and shares the array's memory; next() reads a few values per bar through it.
        self._mv = memoryview(np.ascontiguousarray(array))  # type: ignore[arg-type]
        # Per-bar answers of crossover / crossunder with one partner view (``_up_with`` /
        # ``_down_with``), filled by indicators on first use (see ``_cross_memo`` there). Two
        # plain slots each, not a tuple: read on every bar, so no subscript to get at them.
        self._up_with: object = NO_PARTNER
        self._up: tuple[bool, ...] = ()
        self._down_with: object = NO_PARTNER
        self._down: tuple[bool, ...] = ()

    def __len__(self) -> int:
        return self._clock.i + 1

    def __getitem__(self, key: Any) -> Any:
        end = self._clock.i + 1
        if type(key) is int:  # the hot path: view[-1], view[-2]
            idx = end + key if key < 0 else key
            if 0 <= idx < end:
                return self._mv[idx]
            raise IndexError(f"index {key} is outside the {end} bars revealed so far")
        if isinstance(key, int | np.integer):
            idx = end + int(key) if key < 0 else int(key)
            if idx < 0 or idx >= end:
                raise IndexError(f"index {key} is outside the {end} bars revealed so far")
            return self._array.item(idx)
        if isinstance(key, slice):
            return self._array[:end][key]
        raise TypeError("views accept an int or a slice")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        window = self._array[: self._clock.i + 1]
        return window if dtype is None else window.astype(dtype)

    def __iter__(self) -> Iterator[float]:
        return iter(self._array[: self._clock.i + 1].tolist())

    def __float__(self) -> float:
        return self[-1]

    @property
    def name(self) -> str:
        return self._name

    @property
    def values(self) -> np.ndarray:
        """The revealed bars as a read-only array."""
        return self._array[: self._clock.i + 1]

    def __repr__(self) -> str:
        return f"<SeriesView {self.name} len={len(self)}>"


def readonly(array: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    """A ``dtype`` view of ``array`` that user code cannot write through."""
    out = np.asarray(array, dtype=dtype).view()
    out.flags.writeable = False
    return out
