"""Constraint expressions between sweep parameters: exact combination counts on a real
ParameterSpace grid, Python's own semantics on whitelisted expressions, and hostile input
rejected with a column."""

from __future__ import annotations

import contextlib
import itertools
import random
import re

import pytest

from backtesting.engine.research.constraints import (
    MAX_EXPRESSION_CHARS,
    ConstraintError,
    compile_constraint,
    satisfying,
    take_satisfying,
)
from strategies.paramspec import ParameterSpace, ParameterSpec


def sma_space() -> ParameterSpace:
    return ParameterSpace(
        (
            ParameterSpec.declare("fast", 10, min=5, max=50, step=5),
            ParameterSpec.declare("slow", 100, min=20, max=200, step=20),
        )
    )


def test_fast_below_slow_leaves_exactly_90_of_the_sma_grid():
    space = sma_space()
    fast_lt_slow = compile_constraint("fast < slow", space.names)
    kept = list(satisfying(space.grid(), [fast_lt_slow]))
    brute = [
        (f, s) for f in range(5, 51, 5) for s in range(20, 201, 20) if f < s
    ]  # worked independently of ParameterSpace and of the evaluator
    assert len(kept) == len(brute) == 90
    assert [(p["fast"], p["slow"]) for p in kept] == brute


def test_two_constraints_combine_and_count_exactly():
    space = sma_space()
    constraints = [
        compile_constraint("fast * 2 <= slow and slow - fast >= 5", space.names),
        compile_constraint("not (fast == 25)", space.names),
    ]
    kept = list(satisfying(space.grid(), constraints))
    brute = [
        (f, s)
        for f, s in itertools.product(range(5, 51, 5), range(20, 201, 20))
        if f * 2 <= s and s - f >= 5 and f != 25
    ]
    assert [(p["fast"], p["slow"]) for p in kept] == brute
    # By hand: 2f <= s keeps 2, 4, 6, 8 fast values for slow 20..80 and all 10 from 100 on
    # (80); s - f >= 5 then always holds; fast == 25 drops slow 60..200 (8): 72.
    assert len(brute) == 72


def test_a_seeded_sample_gives_the_first_n_satisfying_points_reproducibly():
    space = ParameterSpace(
        (
            ParameterSpec.declare("fast", 10, min=2, max=100),
            ParameterSpec.declare("slow", 100, min=10, max=400),
        )
    )
    fast_lt_slow = compile_constraint("fast < slow", space.names)
    first = take_satisfying(space.sample(5_000, seed=1), [fast_lt_slow], 2_000)
    again = take_satisfying(space.sample(5_000, seed=1), [fast_lt_slow], 2_000)
    assert first == again
    assert len(first) == 2_000
    assert all(p["fast"] < p["slow"] for p in first)
    assert take_satisfying(space.sample(3, seed=1), [fast_lt_slow], 0) == []
    with pytest.raises(ConstraintError, match="only 0 of 3"):
        take_satisfying(space.sample(3, seed=1), [compile_constraint("fast > 1000")], 1)


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        ("5 <= fast < slow <= 200", {"fast": 5, "slow": 200}, True),
        ("5 <= fast < slow <= 200", {"fast": 5, "slow": 5}, False),
        ("slow // fast >= 3 or slow % fast == 0", {"fast": 7, "slow": 14}, True),
        ("-fast + slow / 4 > 0", {"fast": 3, "slow": 13}, True),
        ("mode == 'ema' and not use_stop", {"mode": "ema", "use_stop": False}, True),
        ("mode != 'ema' or use_stop", {"mode": "ema", "use_stop": False}, False),
        ("True", {}, True),
    ],
)
def test_allowed_expressions_evaluate_like_python(expression, values, expected):
    assert compile_constraint(expression)(values) is expected


def test_random_whitelisted_expressions_agree_with_python_eval():
    rng = random.Random(13)
    names = {"a": 3, "b": -7, "c": 2.5, "d": 11}

    def arith(depth: int) -> str:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice([*names, str(rng.randint(-9, 9)), "0.5"])
        op = rng.choice(["+", "-", "*", "/", "//", "%"])
        return f"({arith(depth - 1)} {op} {arith(depth - 1)})"

    def logic(depth: int) -> str:
        if depth == 0 or rng.random() < 0.4:
            ops = rng.sample(["<", "<=", ">", ">=", "==", "!="], 2)
            return f"{arith(2)} {ops[0]} {arith(2)} {ops[1]} {arith(1)}"
        kind = rng.choice(["and", "or", "not"])
        if kind == "not":
            return f"not ({logic(depth - 1)})"
        return f"({logic(depth - 1)}) {kind} ({logic(depth - 1)})"

    checked = 0
    for _ in range(400):
        expression = logic(3)
        try:
            expected = bool(eval(expression, {"__builtins__": {}}, dict(names)))  # noqa: S307
        except ZeroDivisionError:
            continue
        assert compile_constraint(expression)(names) is expected, expression
        checked += 1
    assert checked > 200


@pytest.mark.parametrize(
    ("expression", "column", "says"),
    [
        ("10**10**10 > fast", 1, "operator ** is not allowed"),
        ("fast < slow and 2 ** 3 > 1", 17, "operator ** is not allowed"),
        ("fast.__class__ < 1", 1, "attribute access is not allowed"),
        ("__class__ < 1", 1, "names starting with _"),
        ("fast < __import__('os').system('true')", 8, "function calls are not allowed"),
        ("fast < max(slow, 3)", 8, "function calls are not allowed"),
        ("fast < slow[0]", 8, "subscripts are not allowed"),
        ("(lambda: 1)() < 2", 1, "function calls are not allowed"),
        ("fast < [x for x in slow]", 8, "comprehensions are not allowed"),
        ("fast in (1, 2)", 1, "comparison in is not allowed"),
        ("fast is slow", 1, "comparison is is not allowed"),
        ("fast if slow else 1", 1, "conditional expressions are not allowed"),
        ("(x := 3) < fast", 2, "assignments are not allowed"),
        ("fast & slow == 0", 1, "operator & is not allowed"),
        ("~fast < 0", 1, "operator ~ is not allowed"),
        ("fast < 1e400", 8, "numbers are at most"),
        ("fast < 10000000000000000", 8, "numbers are at most"),
        ("fast < 1j", 8, "literal complex is not allowed"),
        ("mode == '" + "x" * 40 + "'", 9, "strings are at most 32"),
        ("fast < f'{slow}'", 8, "f-strings are not allowed"),
        ("fast - slow", 1, "expected a comparison"),
        ("fast < slow and fast", None, None),  # a bool parameter in boolean position is fine
        ("fast < slow and (fast + 1)", 18, "expected a comparison"),
        ("fast <", 7, "incomplete expression"),
        ("  fast < < slow", 10, "invalid syntax"),
        ("", None, "empty"),
        ("fast < slow\nand 1", 12, "one line"),
    ],
)
def test_hostile_or_wrong_expressions_fail_with_a_column(expression, column, says):
    if says is None:
        compile_constraint(expression)
        return
    with pytest.raises(ConstraintError, match=re.escape(says)) as raised:
        compile_constraint(expression)
    assert raised.value.column == column
    if column is not None:
        assert str(raised.value).startswith(f"column {column}: ")


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 210 + "fast" + ")" * 210 + " < 1",  # CPython's parser stops at 200
        "-" * 200 + "fast < 1",
        "not " * 100 + "fast < 1",
        " + ".join(["fast"] * 150) + " < 1",
        "fast < 1 and " * 60 + "fast < 1",
        "a" * (MAX_EXPRESSION_CHARS + 1),
        "(" * 300 + ")" * 300,
    ],
)
def test_deep_long_or_huge_expressions_are_rejected_cleanly(expression):
    # Redundant parentheses make no syntax node, so they are harmless below CPython's limit.
    assert compile_constraint("(" * 150 + "fast" + ")" * 150 + " < 1")({"fast": 0})
    with pytest.raises(ConstraintError, match=r"nest|parts|characters|syntax"):
        compile_constraint(expression)


def test_unknown_names_are_errors_when_the_parameters_are_given():
    with pytest.raises(ConstraintError, match="unknown parameter sloww") as raised:
        compile_constraint("fast < sloww", ["fast", "slow"])
    assert raised.value.column == 8
    assert compile_constraint("fast < slow and fast > 1").names == ("fast", "slow")
    assert compile_constraint("fast < slow") == compile_constraint("fast < slow")
    assert "fast < slow" in repr(compile_constraint("fast < slow"))


@pytest.mark.parametrize(
    ("expression", "values", "says"),
    [
        ("slow / fast > 2", {"fast": 0, "slow": 10}, "division by zero"),
        ("fast < slow", {"fast": 1}, "no parameter slow"),
        ("fast < slow", {"fast": 1, "slow": [2]}, "not a number, a bool or a string"),
        ("mode < 3", {"mode": "ema"}, "not a number"),
        ("mode * 3 == 'x'", {"mode": "ab"}, "not a number"),
        ("use_stop and fast < 2", {"use_stop": 1, "fast": 1}, "not true or false"),
        ("flag + 1 > 1", {"flag": True}, "not a number"),
        (" * ".join(["fast"] * 30) + " / 3 > 1", {"fast": 10**15}, "too large"),
    ],
)
def test_evaluation_errors_are_constraint_errors(expression, values, says):
    constraint = compile_constraint(expression)
    with pytest.raises(ConstraintError, match=says):
        constraint(values)


def test_random_token_soup_only_ever_raises_constraint_errors():
    # Fuzz with a fixed seed: whatever is typed, the answer is a Constraint or a
    # ConstraintError, and evaluating a Constraint gives a bool or a ConstraintError.
    tokens = [
        "fast", "slow", "mode", "_x", "__class__", "1", "0", "2.5", "1e400", "'ema'", "True",
        "(", ")", "[", "]", "{", "}", ",", ".", ":", "<", "<=", "==", "!=", ">", "+", "-", "*",
        "/", "//", "%", "**", "and", "or", "not", "in", "is", "if", "else", "lambda", "for",
        "import", "f'", "\\", "#", ";", "=", ":=", "@", "~", "&", "|", "^", " ",
    ]  # fmt: skip
    rng = random.Random(2024)
    values = {"fast": 10, "slow": 0, "mode": "ema"}
    compiled = 0
    for _ in range(3_000):
        expression = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 12)))
        try:
            constraint = compile_constraint(expression)
        except ConstraintError:
            continue
        compiled += 1
        with contextlib.suppress(ConstraintError):
            assert isinstance(constraint(values), bool)
    assert compiled > 10
