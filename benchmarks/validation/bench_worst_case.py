"""Benchmark: the validator on hostile worst cases against a normal strategy of the same size.

    .venv/bin/python -m benchmarks.validation.bench_worst_case [--samples 7]

Validation runs in the web request that saves a strategy, so no input may stall it. The unit
tests prove the work is bounded (oversized input never reaches the expensive stages); this
prints what that bound costs. Baseline: a valid SMA crossover padded with ordinary methods to
about the same byte size as the largest hostile input, so every row reads a similar amount of
text. Each row is validated `--samples` times with garbage collection between samples; the
table shows the median, the spread (max - min) and the ratio to the baseline's median.
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import time
from collections.abc import Callable

from strategies.validation import MAX_CODE_BYTES, validate_strategy_code

HEADER = "from strategy import Strategy\n\n\nclass S(Strategy):\n    def next(self):\n"
SMA = (
    "from strategy import Strategy, Param\nimport indicators as ta\n\n\n"
    "class SmaCross(Strategy):\n    fast = Param(10, min=2, max=200)\n"
    "    slow = Param(20, min=5, max=400)\n\n    def init(self):\n"
    "        self.a = self.I(ta.sma, self.data.close, self.fast)\n"
    "        self.b = self.I(ta.sma, self.data.close, self.slow)\n\n    def next(self):\n"
    "        if ta.crossover(self.a, self.b):\n            self.buy()\n"
)


def padded_baseline(size: int) -> str:
    """A valid strategy grown with small helper methods to roughly `size` bytes."""
    code, index = SMA, 0
    while len(code) < size - 200:
        code += f"\n    def helper_{index}(self, x):\n        return x * {index} + 1\n"
        index += 1
    return code


CASES: dict[str, tuple[str, set[str]]] = {
    "over the byte limit": (HEADER + "        pass\n" + "#" * MAX_CODE_BYTES, {"code_too_large"}),
    "49k list elements": (
        HEADER + "        pass\nx = [" + "a," * 49_000 + "]\n",
        {"too_many_nodes"},
    ),
    "10k open brackets": ("(" * 10_000, {"too_deeply_nested"}),
    "20k chained additions": ("x = 1" + " + 1" * 20_000, {"too_deeply_nested"}),
    "40k attribute chain": ("x = a" + ".b" * 40_000, {"too_deeply_nested"}),
}


def measure(func: Callable[[], object], samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        gc.collect()
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()

    baseline_code = padded_baseline(max(len(code) for code, _ in CASES.values()) // 2)
    assert validate_strategy_code(baseline_code).ok, "the baseline must be a valid strategy"
    rows: list[tuple[str, str, set[str]]] = [("baseline: valid strategy", baseline_code, set())]
    for label, (code, expected) in CASES.items():
        codes = {p.code for p in validate_strategy_code(code).problems}
        # Same work in every row means the same verdict every sample: check it once here.
        assert expected <= codes, f"{label}: expected {expected}, got {codes}"
        rows.append((label, code, expected))

    print(f"{'case':<28}{'bytes':>9}{'median ms':>12}{'spread ms':>12}{'x baseline':>12}")
    base_median = None
    for label, code, _ in rows:
        times = measure(functools.partial(validate_strategy_code, code), args.samples)
        median = statistics.median(times)
        base_median = base_median or median
        print(
            f"{label:<28}{len(code.encode()):>9,}{median * 1e3:>12.1f}"
            f"{(max(times) - min(times)) * 1e3:>12.1f}{median / base_median:>12.2f}"
        )


if __name__ == "__main__":
    main()
