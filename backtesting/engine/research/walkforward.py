"""Walk-forward analysis: window arithmetic, stitching out-of-sample equity, efficiency.

Conventions (docs/metrics.md, "Research statistics"):

- Windows are half-open bar index ranges ``[start, end)`` over a series of ``n_bars`` bars.
  Window k's in-sample part ends where its out-of-sample part starts. Rolling: in-sample
  ``[k*step, k*step + in_sample)``; anchored: in-sample ``[0, k*step + in_sample)``. The
  out-of-sample part follows for ``out_of_sample`` bars. Only whole windows are produced: a
  last out-of-sample part that would run past the data is dropped.
- ``step`` must be >= ``out_of_sample`` so out-of-sample parts never overlap (a bar counted
  twice in the stitched curve); a larger step leaves the bars between them untested.
- Efficiency = annualised out-of-sample return / annualised in-sample return; NaN unless the
  in-sample return is > 0 (see ``walk_forward_efficiency``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "WalkForwardWindow",
    "annualize_total_return",
    "stitch_equity",
    "walk_forward_efficiency",
    "walk_forward_windows",
]


@dataclass(frozen=True)
class WalkForwardWindow:
    """One window as half-open bar ranges: in-sample ``[is_start, is_end)``, then
    out-of-sample ``[is_end, oos_end)``."""

    index: int
    is_start: int
    is_end: int
    oos_end: int

    @property
    def in_sample(self) -> range:
        return range(self.is_start, self.is_end)

    @property
    def out_of_sample(self) -> range:
        return range(self.is_end, self.oos_end)


def _check_lengths(n_bars: int, in_sample: int, out_of_sample: int, step: int) -> None:
    for name, value in (("in_sample", in_sample), ("out_of_sample", out_of_sample)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1 bar, got {value}")
    if step < out_of_sample:
        raise ValueError(
            f"step ({step}) must be at least out_of_sample ({out_of_sample}): otherwise the "
            "out-of-sample windows overlap and the stitched curve counts bars twice"
        )
    if in_sample + out_of_sample > n_bars:
        raise ValueError(
            f"in_sample + out_of_sample = {in_sample + out_of_sample} bars do not fit in "
            f"{n_bars} bars: not even one window"
        )


def walk_forward_windows(
    n_bars: int, in_sample: int, out_of_sample: int, step: int, *, anchored: bool = False
) -> list[WalkForwardWindow]:
    """Every whole window over ``n_bars`` bars (lengths in bars), oldest first.

    Example: 100 bars, in_sample 40, out_of_sample 20, step 20, rolling -> [0, 40) | [40, 60),
    [20, 60) | [60, 80), [40, 80) | [80, 100); anchored -> in-sample always starts at 0.
    Raises ValueError for a length < 1, step < out_of_sample, or no window fitting.
    """
    _check_lengths(n_bars, in_sample, out_of_sample, step)
    windows: list[WalkForwardWindow] = []
    offset = 0
    while offset + in_sample + out_of_sample <= n_bars:
        is_end = offset + in_sample
        start = 0 if anchored else offset
        windows.append(WalkForwardWindow(len(windows), start, is_end, is_end + out_of_sample))
        offset += step
    return windows


def stitch_equity(
    segments: Sequence[np.ndarray], initial_equity: float | None = None
) -> np.ndarray:
    """One curve from consecutive out-of-sample equity segments, each rescaled so that it
    starts where the previous one ended (its first value becomes the previous last value;
    every point is kept, so the result is as long as all segments together).

    ``initial_equity`` rescales the first segment to start there; None keeps it as it is.
    Raises ValueError for no segments, an empty segment, or one that does not start > 0.
    """
    if not segments:
        raise ValueError("no out-of-sample segments to stitch")
    scaled: list[np.ndarray] = []
    level = initial_equity
    for k, segment in enumerate(segments):
        seg = np.asarray(segment, dtype=np.float64)
        if seg.ndim != 1 or len(seg) == 0:
            raise ValueError(f"segment {k} must be a non-empty 1-D array")
        if not (math.isfinite(seg[0]) and seg[0] > 0):
            raise ValueError(f"segment {k} starts at {seg[0]}; it must start above 0")
        factor = 1.0 if level is None else level / float(seg[0])
        scaled.append(seg * factor)
        level = float(scaled[-1][-1])
    return np.concatenate(scaled)


def annualize_total_return(total_return: float, n_periods: float, periods_per_year: float) -> float:
    """(1 + R)^(P / n) - 1 for a total return R over n periods; -1 if wiped out (R <= -1);
    NaN for n <= 0 or a non-finite R."""
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
    if n_periods <= 0 or not math.isfinite(total_return):
        return math.nan
    if total_return <= -1.0:
        return -1.0
    return float((1.0 + total_return) ** (periods_per_year / n_periods)) - 1.0


def walk_forward_efficiency(in_sample_annual: float, out_of_sample_annual: float) -> float:
    """Annualised out-of-sample return / annualised in-sample return.

    Sign cases: in-sample > 0 and out-of-sample > 0 -> positive (1.0 = the optimum kept its pace
    out of sample, 0.5 = half of it); in-sample > 0 and out-of-sample <= 0 -> <= 0 (the edge
    did not survive); in-sample <= 0 -> NaN: the best in-sample result lost money, and a loss
    over a loss would read as a positive efficiency. NaN for a non-finite input.
    """
    if not (math.isfinite(in_sample_annual) and math.isfinite(out_of_sample_annual)):
        return math.nan
    if in_sample_annual <= 0.0:
        return math.nan
    return out_of_sample_annual / in_sample_annual
