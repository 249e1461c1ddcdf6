"""The RestrictedPython layer of the validator (strategies/validation/policy.py), case by case.

docs/sandbox-policy.md: the policy refuses what our own AST walk refuses (forbidden names,
attributes and modules, magic methods, ``global``), reports each finding once, and compiles
augmented assignment to an attribute or item into a guarded load, operation and store that
evaluates the owner, the key, the current value and the right-hand side once each, in Python's
own order. These tests run only the policy: no database, no sandbox.
"""

from __future__ import annotations

from typing import Any

import pytest

from strategies.validation.policy import _problem_from_message, restricted_compile
from strategies.validation.results import Problem


def _problems(code: str) -> list[tuple[int, str]]:
    compiled, problems = restricted_compile(code)
    assert (compiled is None) == bool(problems)  # code only when there is nothing to report
    assert all(p.code == "restricted_python" and p.column == 0 for p in problems)
    return [(p.line, p.message) for p in problems]


def test_plain_code_compiles_with_no_problems() -> None:
    # An except clause without a name hands the policy a name of None.
    code = "import numpy\nx = 1\nx += 2\ntry:\n    x = 3\nexcept Exception:\n    pass\n"
    compiled, problems = restricted_compile(code)
    assert problems == []
    assert compiled is not None
    assert compiled.co_filename == "<strategy>"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("y = 1\nglobal x\n", [(2, "Global statements are not allowed.")]),
        (
            "y = eval",
            [(1, '"eval" is not allowed: it runs code that the validator has not checked')],
        ),
        (
            "import os",
            [
                (
                    1,
                    'importing "os" is not allowed; the allowed modules are indicators, math,'
                    " numpy, strategy",
                )
            ],
        ),
        (
            "\n\nfrom os import path",
            [
                (
                    3,
                    'importing "os" is not allowed; the allowed modules are indicators, math,'
                    " numpy, strategy",
                )
            ],
        ),
        (
            "from . import x",
            [
                (
                    1,
                    'importing "." is not allowed; the allowed modules are indicators, math,'
                    " numpy, strategy",
                )
            ],
        ),
        (
            "import math, socket",
            [
                (
                    1,
                    'importing "socket" is not allowed; the allowed modules are indicators, math,'
                    " numpy, strategy",
                )
            ],
        ),
        # A private name is RestrictedPython's own finding: reported once, not twice.
        ("_x = 1", [(1, '"_x" is an invalid variable name because it starts with "_"')]),
        (
            "y = x._p",
            [(1, '"_p" is an invalid attribute name because it starts with "_".')],
        ),
        # No magic methods, even where RestrictedPython would allow them.
        (
            "class A:\n    def __init__(self):\n        pass\n",
            [(2, '"__init__" is an invalid variable name because it starts with "_"')],
        ),
        (
            "def __call__(self):\n    pass\n",
            [(1, '"__call__" is an invalid variable name because it starts with "_"')],
        ),
        (
            "self.f_globals += 1",
            [
                (
                    1,
                    'the attribute "f_globals" is not allowed: it exposes interpreter frames,'
                    " code objects or their globals",
                )
            ],
        ),
        ("a[1:2] += 1", [(1, "Augmented assignment of object items and slices is not allowed.")]),
    ],
)
def test_refused_code_reports_each_finding_once(code: str, expected: list[tuple[int, str]]) -> None:
    assert _problems(code) == expected


def test_a_forbidden_attribute_is_refused_by_both_layers() -> None:
    problems = _problems("y = x.f_globals")
    assert (
        1,
        'the attribute "f_globals" is not allowed: it exposes interpreter frames, code objects'
        " or their globals",
    ) in problems


def test_a_syntax_error_is_one_problem_on_its_line() -> None:
    ((line, message),) = _problems("x = 1\ny = (\n")
    assert line == 2
    assert message.startswith("SyntaxError: ")


class _Recorder:
    """The guards a sandbox provides, logging each call."""

    def __init__(self) -> None:
        self.log: list[Any] = []

    def globals(self, **names: Any) -> dict[str, Any]:
        log = self.log

        def _getattr_(obj: Any, name: str) -> Any:
            log.append(("getattr", name))
            return getattr(obj, name)

        def _getitem_(obj: Any, key: Any) -> Any:
            log.append(("getitem", key))
            return obj[key]

        def _write_(obj: Any) -> Any:
            log.append("write")
            return obj

        def _inplacevar_(op: str, current: Any, value: Any) -> Any:
            log.append(("inplace", op, current, value))
            return {"+=": current + value, "-=": current - value, "*=": current * value}[op]

        def note(label: str, result: Any) -> Any:
            log.append(label)
            return result

        return {
            "__builtins__": {},
            "_getattr_": _getattr_,
            "_getitem_": _getitem_,
            "_write_": _write_,
            "_inplacevar_": _inplacevar_,
            "note": note,
            **names,
        }


class _Box:
    count = 0


def _run(code: str, **names: Any) -> tuple[dict[str, Any], list[Any]]:
    compiled, problems = restricted_compile(code)
    assert problems == [] and compiled is not None
    recorder = _Recorder()
    namespace = recorder.globals(**names)
    before = set(namespace)
    exec(compiled, namespace)  # noqa: S102 - the policy's output, run with recording guards
    # The temporaries the policy introduces are gone afterwards.
    assert [n for n in set(namespace) - before if n.startswith("_")] == []
    return namespace, recorder.log


def test_attribute_augmented_assignment_is_guarded_and_evaluates_once_in_order() -> None:
    box = _Box()
    box.count = 10
    _, log = _run("note('owner', box).count -= note('value', 3)", box=box)
    assert box.count == 7
    # Python's order: owner, current value, right-hand side, operation, store.
    assert log == ["owner", ("getattr", "count"), "value", ("inplace", "-=", 10, 3), "write"]


def test_item_augmented_assignment_is_guarded_and_evaluates_once_in_order() -> None:
    table = {"k": 4}
    _, log = _run("note('owner', table)[note('key', 'k')] *= note('value', 5)", table=table)
    assert table == {"k": 20}
    assert log == [
        "owner",
        "key",
        ("getitem", "k"),
        "value",
        ("inplace", "*=", 4, 5),
        "write",
    ]


def test_two_augmented_assignments_in_a_row_use_their_own_owners() -> None:
    first, second, table = _Box(), _Box(), {"x": 0, "y": 5}
    code = "a.count += 1\nb.count += 2\na.count += 3\nt['x'] += 1\nt['y'] += 2\n"
    _run(code, a=first, b=second, t=table)
    assert (first.count, second.count) == (4, 2)
    assert table == {"x": 1, "y": 7}


def test_name_augmented_assignment_goes_through_inplacevar() -> None:
    namespace, log = _run("x = 2\nx += 5\n")
    assert namespace["x"] == 7
    assert log == [("inplace", "+=", 2, 5)]


def test_problems_carry_the_validator_rule_code() -> None:
    _, problems = restricted_compile("global x")
    assert problems == [Problem(1, 0, "restricted_python", "Global statements are not allowed.")]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Line 12: bad thing", Problem(12, 0, "restricted_python", "bad thing")),
        # RestrictedPython writes "Line None" for a node without a location.
        ("Line None: no location", Problem(0, 0, "restricted_python", "no location")),
        ("Line 3: first\nsecond", Problem(3, 0, "restricted_python", "first\nsecond")),
        ("no line at all", Problem(0, 0, "restricted_python", "no line at all")),
        ("Line x: not a number", Problem(0, 0, "restricted_python", "Line x: not a number")),
    ],
)
def test_restricted_python_messages_become_problems_on_their_line(
    message: str, expected: Problem
) -> None:
    # The compiler's complaints are "Line N: text"; the line goes to the problem, the rest is
    # its message, and a message of another shape is kept whole on line 0.
    assert _problem_from_message(message) == expected
