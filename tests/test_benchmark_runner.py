"""`python -m benchmarks NAME [options]`: options reach the benchmark named before them."""

from __future__ import annotations

import pytest

from benchmarks.__main__ import BENCHMARKS, plan


def test_options_after_a_name_go_to_that_benchmark() -> None:
    assert plan(["jobs", "--runs", "20", "--burst", "300", "engine", "--rounds", "2"]) == [
        ("jobs", ["--runs", "20", "--burst", "300"]),
        ("engine", ["--rounds", "2"]),
    ]


def test_no_name_runs_every_benchmark_without_options() -> None:
    assert plan([]) == [(name, []) for name in BENCHMARKS]


def test_an_option_or_unknown_name_before_any_benchmark_is_refused_with_the_names() -> None:
    for argv in (["--runs", "20"], ["jobz"]):
        with pytest.raises(SystemExit, match=r"unknown benchmark .*name one of engine, kernel"):
            plan(argv)
