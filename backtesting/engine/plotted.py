"""The strategy's indicators as the price chart draws them: named, per symbol, one value per bar.

Collected once after the run from what ``self.I`` registered, so they can never change a fill,
the equity or a metric. Only 1-D numeric outputs of the run's bar length exist (``self.I``
refuses anything else), so every collected series is aligned with the run's bars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from backtesting.engine.views import SeriesView

# A price chart stays readable with a handful of lines; a strategy registering dozens of
# arrays (a grid of periods) gets its first ones drawn.
MAX_PLOTTED_PER_SYMBOL = 8
MAX_INDICATOR_NAME_CHARS = 64
_LABEL_ARG_CHARS = 16


@dataclass(frozen=True)
class IndicatorSource:
    """What one ``self.I`` call registered: its arrays, how to name them, whose prices fed it."""

    arrays: tuple[np.ndarray, ...]
    name: str | None  # the name= keyword, when given
    label: str  # "sma(10)": the function's name and its scalar arguments
    symbol: str | None  # the symbol whose bar array was an argument, if one was


@dataclass(frozen=True, eq=False)
class PlottedIndicator:
    name: str
    symbol: str
    values: np.ndarray  # float64, one per bar of the run; NaN during warm-up


@dataclass(frozen=True, eq=False)
class PlottedIndicators:
    """Every plotted indicator of a run with the run's bar times (int64 ns, all bars)."""

    timestamps: np.ndarray
    series: tuple[PlottedIndicator, ...]


def indicator_label(func: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping) -> str:
    """``sma(10)``: the function's name with its number and short text arguments."""
    shown = [
        repr(v) if isinstance(v, str) else str(v)
        for v in (*args, *kwargs.values())
        if isinstance(v, int | float | str) and len(str(v)) <= _LABEL_ARG_CHARS
    ]
    name = getattr(func, "__name__", None)
    base = name if isinstance(name, str) and name.isidentifier() else "indicator"
    return f"{base}({', '.join(shown)})"


def source_symbol(datas: Mapping[str, Any], args: tuple[Any, ...], kwargs: Mapping) -> str | None:
    """The symbol one of whose bar arrays is among the arguments (the first such one)."""
    given = {id(v) for v in (*args, *kwargs.values())}
    for symbol, data in datas.items():
        if any(id(arr) in given for arr in data._arrays.values()):
            return symbol
    return None


def plotted_indicators(
    sources: list[IndicatorSource], attributes: Mapping[str, Any], symbols: tuple[str, ...],
    timestamps: np.ndarray,
) -> PlottedIndicators:  # fmt: skip
    """Name and attribute each registered array; at most MAX_PLOTTED_PER_SYMBOL per symbol.

    A name is the ``name=`` keyword, else the attribute the strategy stored the output in
    (``self.sma_fast``), else the function and its arguments. An indicator fed by no symbol's
    bar array belongs to the only symbol of a one-symbol run and is skipped otherwise (drawing
    it over another instrument's prices would mislead).
    """
    attribute_of = dict(_stored_arrays(attributes))
    per_symbol: dict[str, int] = {}
    out = []
    for source in sources:
        symbol = source.symbol or (symbols[0] if len(symbols) == 1 else None)
        if symbol is None:
            continue
        for k, arr in enumerate(source.arrays):
            if per_symbol.get(symbol, 0) >= MAX_PLOTTED_PER_SYMBOL:
                break
            name = _name(source, k, attribute_of.get(id(arr)))
            values = np.where(np.isfinite(arr), arr, np.nan)
            values.flags.writeable = False
            out.append(PlottedIndicator(name[:MAX_INDICATOR_NAME_CHARS], symbol, values))
            per_symbol[symbol] = per_symbol.get(symbol, 0) + 1
    return PlottedIndicators(timestamps, tuple(out))


def _name(source: IndicatorSource, k: int, attribute: str | None) -> str:
    suffix = f" {k + 1}" if len(source.arrays) > 1 else ""
    if source.name:  # an empty name= names nothing
        return source.name + suffix
    return attribute if attribute is not None else source.label + suffix


def _stored_arrays(attributes: Mapping[str, Any]) -> Iterator[tuple[int, str]]:
    """(id of an indicator array, the attribute name holding it) for views, arrays and tuples."""
    for key, value in attributes.items():
        if not isinstance(key, str) or key.startswith("_"):
            continue
        if isinstance(value, tuple | list) and len(value) <= MAX_PLOTTED_PER_SYMBOL:
            for k, item in enumerate(value):
                found = _array_of(item)
                if found is not None:
                    yield id(found), f"{key} {k + 1}"
        else:
            found = _array_of(value)
            if found is not None:
                yield id(found), key


def _array_of(value: Any) -> np.ndarray | None:
    if isinstance(value, SeriesView):
        return value._array
    return value if isinstance(value, np.ndarray) else None
