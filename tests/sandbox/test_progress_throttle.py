"""A single run's progress reports are thinned in the child: the first always, then at most one
every PROGRESS_MIN_SECONDS (docs/sandbox.md, layer 4)."""

from __future__ import annotations

from backtesting.sandbox import runner


def test_the_first_report_passes_and_then_one_per_interval() -> None:
    times = iter([100.0, 100.05, 100.09, 100.1, 100.15, 100.2, 100.35, 100.36])
    sent: list[float] = []
    report = runner.progress_throttled(sent.append, min_seconds=0.1, clock=lambda: next(times))
    for fraction in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        report(fraction)
    # 100.0 passes; 100.05 and 100.09 fall inside its interval; 100.1 opens the next one,
    # 100.2 the one after, then 100.35 (100.15 and 100.36 are inside an interval).
    assert sent == [0.1, 0.4, 0.6, 0.7]
