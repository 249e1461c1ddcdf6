"""Validation policy for user strategy code: plain pytest, no Django (`-p no:django`)."""

from __future__ import annotations

import ast
import operator
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from RestrictedPython import Guards, PrintCollector, safe_builtins

from strategies.validation import (
    ALLOWED_DECORATORS,
    ALLOWED_MODULES,
    GUARD_NAMES,
    MAX_AST_DEPTH,
    MAX_CODE_BYTES,
    MAX_LINES,
    ParameterSpec,
    Problem,
    StrategyValidationError,
    Verdict,
    compile_strategy,
    validate_strategy_code,
)
from tests.strategies import samples

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "attack_corpus"
HEADER = "from strategy import Strategy\n\n\nclass S(Strategy):\n    def next(self):\n"


def in_next(*lines: str) -> str:
    """A valid strategy whose next() holds ``lines``; the first of them is line 6."""
    return HEADER + "".join(f"        {line}\n" for line in lines)


def only_problem(code: str) -> Problem:
    verdict = validate_strategy_code(code)
    assert not verdict.ok
    assert len(verdict.problems) == 1, verdict.problems
    return verdict.problems[0]


# --- valid strategies ------------------------------------------------------------------


def test_sma_cross_passes_with_its_parameters() -> None:
    verdict = validate_strategy_code(samples.SMA_CROSS)

    assert verdict == Verdict(
        ok=True,
        problems=[],
        parameters=[
            ParameterSpec("fast", "int", 10, 2, 200, 1, None, "Fast SMA period (bars)"),
            ParameterSpec("slow", "int", 20, 5, 400, 1, None, "Slow SMA period (bars)"),
        ],
        class_name="SmaCross",
    )


def test_rsi_strategy_passes_with_float_bool_and_choice_parameters() -> None:
    verdict = validate_strategy_code(samples.RSI_REVERSION)

    assert verdict.ok, verdict.problems
    assert verdict.class_name == "RsiReversion"
    assert [p.to_dict() for p in verdict.parameters] == [
        {"name": "period", "type": "int", "default": 14, "min": 2, "max": 100, "step": None,
         "choices": None, "description": "RSI look-back (bars)"},
        {"name": "oversold", "type": "float", "default": 30.0, "min": 0.0, "max": 50.0,
         "step": 0.5, "choices": None, "description": ""},
        {"name": "overbought", "type": "float", "default": 70.0, "min": 50.0, "max": 100.0,
         "step": 0.5, "choices": None, "description": "sell above this"},
        {"name": "size", "type": "float", "default": 0.5, "min": None, "max": None,
         "step": None, "choices": [0.25, 0.5, 1.0], "description": ""},
        {"name": "use_stops", "type": "bool", "default": True, "min": None, "max": None,
         "step": None, "choices": None, "description": "attach a stop loss"},
    ]  # fmt: skip
    by_name = {p.name: p for p in verdict.parameters}
    assert by_name["oversold"] == ParameterSpec("oversold", "float", 30.0, 0.0, 50.0, 0.5)
    assert by_name["size"].choices == (0.25, 0.5, 1.0)
    assert by_name["use_stops"].type == "bool"


def test_multi_asset_strategy_passes_with_string_and_negative_parameters() -> None:
    verdict = validate_strategy_code(samples.MULTI_ASSET)

    assert verdict.ok, verdict.problems
    assert [(p.name, p.type, p.default) for p in verdict.parameters] == [
        ("lookback", "int", 20),
        ("mode", "str", "momentum"),
        ("threshold", "float", -0.01),
    ]
    assert verdict.parameters[1].choices == ("momentum", "mean_reversion")
    assert verdict.parameters[2].min == -1.0


def test_vectorized_signals_strategy_passes() -> None:
    verdict = validate_strategy_code(samples.VECTORIZED)

    assert verdict.ok, verdict.problems
    assert verdict.class_name == "TrendFilter"
    assert [p.name for p in verdict.parameters] == ["window", "leverage"]


@pytest.mark.parametrize(
    "code", [samples.SMA_CROSS, samples.RSI_REVERSION, samples.MULTI_ASSET, samples.VECTORIZED]
)
def test_compile_strategy_returns_a_code_object_for_valid_code(code: str) -> None:
    assert isinstance(compile_strategy(code), CodeType)


def test_compiled_code_needs_only_the_documented_guards() -> None:
    names: set[str] = set()
    extra = in_next("self.n += 1", "self.items[0] *= 2", "a, b = 1, 2", "print(a, *[b])")
    for code in (
        samples.SMA_CROSS,
        samples.RSI_REVERSION,
        samples.MULTI_ASSET,
        samples.VECTORIZED,
        extra,
    ):
        names |= _all_names(compile_strategy(code))

    # Class bodies read __name__ (for __module__); print goes through _print._call_print.
    standard = {"__name__", "__module__", "__qualname__", "__doc__", "_print", "_call_print"}
    private = {n for n in names if n.startswith("_") and not re.fullmatch(r"_tmp\d+", n)}
    assert private - standard <= set(GUARD_NAMES)
    assert {"_getattr_", "_write_", "_getiter_", "_inplacevar_", "__metaclass__"} <= private


def _all_names(code: CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _all_names(const)
    return names


def test_compiled_code_runs_with_restricted_python_guards() -> None:
    code = compile_strategy(
        "from strategy import Strategy, Param\n"
        "class S(Strategy):\n"
        "    n = Param(3)\n"
        "    def next(self):\n"
        "        self.count += self.n\n"
        "        self.items[1] *= 10\n"
        "        for a, b in [(1, 2)]:\n"
        "            self.items[0] -= a + b\n"
    )
    namespace = _sandbox_globals()
    exec(code, namespace)  # noqa: S102 - the point of the test: run the compiled policy

    instance = namespace["S"]()
    instance.count, instance.items = 1, [0, 5]
    instance.next()

    assert (instance.count, instance.items) == (4, [-3, 50])


def _sandbox_globals() -> dict[str, Any]:
    """A minimal stand-in for the sandbox's globals, enough to run compiled samples."""
    strategy_module = type("strategy", (), {"Strategy": object, "Param": lambda v, **_: v})
    operators = {"+=": operator.iadd, "*=": operator.imul, "-=": operator.isub}
    builtins = {**safe_builtins, "__import__": lambda *args, **kwargs: strategy_module}
    return {
        "__builtins__": builtins, "__name__": "strategy_under_test", "__metaclass__": type,
        "_getattr_": Guards.safer_getattr, "_write_": lambda obj: obj,
        "_getitem_": operator.getitem, "_getiter_": iter, "_print_": PrintCollector,
        "_iter_unpack_sequence_": Guards.guarded_iter_unpack_sequence,
        "_unpack_sequence_": Guards.guarded_unpack_sequence,
        "_inplacevar_": lambda op, current, value: operators[op](current, value),
    }  # fmt: skip


def test_allow_lists_are_the_documented_ones() -> None:
    assert sorted(ALLOWED_MODULES) == ["indicators", "math", "numpy", "strategy"]
    assert frozenset({"staticmethod"}) == ALLOWED_DECORATORS


# --- every rule, with line, column and message ----------------------------------------

RULES = [
    # (source, code, line, column, message fragment)
    ("import os\n" + in_next("pass"), "forbidden_import", 1, 1,
     'importing "os" is not allowed; the allowed modules are indicators, math, numpy, strategy'),
    ("import numpy.linalg\n" + in_next("pass"), "forbidden_import", 1, 1, '"numpy.linalg"'),
    ("from . import x\n" + in_next("pass"), "forbidden_import", 1, 1, "relative imports"),
    ("from math import *\n" + in_next("pass"), "forbidden_import", 1, 1, "import *"),
    (in_next('m = __import__("os")'), "forbidden_import", 6, 13, '"__import__"'),
    (in_next('m = importlib.import_module("os")'), "forbidden_import", 6, 13, '"importlib"'),
    (in_next("_hidden = 1"), "private_name", 6, 9, 'the name "_hidden"'),
    (in_next("x = self._engine"), "private_name", 6, 18, 'attribute "_engine"'),
    (in_next("x = self.data.__class__"), "private_name", 6, 23, '"__class__"'),
    (in_next("self.buy(_size=1)"), "private_name", 6, 18, 'keyword argument "_size"'),
    (in_next("def f(_x): pass"), "private_name", 6, 15, 'argument name "_x"'),
    (in_next('exec("1")'), "forbidden_name", 6, 9, '"exec" is not allowed: it runs code'),
    (in_next('eval("1")'), "forbidden_name", 6, 9, '"eval"'),
    (in_next('compile("1", "f", "eval")'), "forbidden_name", 6, 9, '"compile"'),
    (in_next('open("f")'), "forbidden_name", 6, 9, "cannot read or write files"),
    (in_next("g = globals()"), "forbidden_name", 6, 13, '"globals"'),
    (in_next("g = locals()"), "forbidden_name", 6, 13, '"locals"'),
    (in_next("g = vars()"), "forbidden_name", 6, 13, '"vars"'),
    (in_next('t = type("X", (), {})'), "forbidden_name", 6, 13, "isinstance()"),
    (in_next("breakpoint()"), "forbidden_name", 6, 9, '"breakpoint"'),
    (in_next("input()"), "forbidden_name", 6, 9, '"input"'),
    (in_next("help()"), "forbidden_name", 6, 9, '"help"'),
    (in_next('memoryview(b"")'), "forbidden_name", 6, 9, '"memoryview"'),
    (in_next("exit()"), "forbidden_name", 6, 9, '"exit"'),
    (in_next("quit()"), "forbidden_name", 6, 9, '"quit"'),
    (in_next("x = __builtins__"), "private_name", 6, 13, '"__builtins__"'),
    (in_next("x = getattr(self, name)"), "dynamic_attribute", 6, 13, "string literal"),
    (in_next('setattr(self, "a" + "b", 1)'), "dynamic_attribute", 6, 9, "setattr()"),
    (in_next("delattr(self, name)"), "dynamic_attribute", 6, 9, "delattr()"),
    (in_next("f = getattr"), "dynamic_attribute", 6, 13, "called directly"),
    (in_next('x = getattr(self, "__dict__")'), "private_name", 6, 13, '"__dict__"'),
    (in_next('x = getattr(self, "gi_frame")'), "forbidden_attribute", 6, 13, '"gi_frame"'),
    (in_next("x = self.gen.gi_frame"), "forbidden_attribute", 6, 22, "interpreter frames"),
    (in_next("x = frame.f_globals"), "forbidden_attribute", 6, 19, '"f_globals"'),
    (in_next("x = tb.tb_frame"), "forbidden_attribute", 6, 16, '"tb_frame"'),
    (in_next("x = int.mro()"), "forbidden_attribute", 6, 17, '"mro"'),
    (in_next('x = "{0.real}".format(1)'), "unsafe_format", 6, 24, "attribute or index"),
    (in_next('x = "{0[a]}".format_map(d)'), "unsafe_format", 6, 22, "attribute or index"),
    (in_next("x = text.format(1)"), "unsafe_format", 6, 18, "string literal"),
    (in_next('x = "{0"' ".format(1)"), "unsafe_format", 6, 18, "invalid"),
    (in_next("x = super(S, self)"), "forbidden_call", 6, 13, "without arguments"),
    (in_next("global counter"), "forbidden_syntax", 6, 9, "global statements"),
    (in_next("def f():", "    nonlocal x"), "forbidden_syntax", 7, 13, "nonlocal"),
    (in_next("async def f(): pass"), "forbidden_syntax", 6, 9, "async functions"),
    (in_next("match x:", "    case 1: pass"), "forbidden_syntax", 6, 9, "match statements"),
    (in_next("x: int = 1"), "forbidden_syntax", 6, 9, "annotated assignments"),
    (in_next("@property", "def f(): pass"), "forbidden_decorator", 6, 10, "@staticmethod"),
    (in_next("@staticmethod()", "def f(): pass"), "forbidden_decorator", 6, 10, "decorator"),
    (HEADER.replace("(Strategy)", "(Strategy, metaclass=M)") + "        pass\n",
     "forbidden_class", 4, 19, "metaclass"),
    (HEADER.replace("(Strategy)", "(Strategy, object)") + "        pass\n",
     "forbidden_class", 4, 1, "must derive from Strategy and nothing else"),
    (HEADER + "        pass\nclass Other(Strategy):\n    def next(self): pass\n",
     "multiple_strategy_classes", 7, 1, '"S" is already defined'),
    ("from strategy import Strategy\nx = 1\n", "no_strategy_class", 0, 0, "must define one class"),
    (HEADER.replace("    def next(self):\n", "    def init(self):\n") + "        pass\n",
     "missing_method", 4, 1, "next(self)"),
    (in_next("pass") + "    def signals(self, data):\n        pass\n", "conflicting_methods",
     4, 1, "both next() and signals()"),
    (HEADER.replace("from strategy import Strategy", "import math") + "        pass\n",
     "missing_strategy_import", 4, 1, "from strategy import Strategy"),
    ("x = (1 +\n", "syntax_error", 1, 5, "syntax error: '(' was never closed"),
    (in_next("x = 1", "  y = 2"), "syntax_error", 7, 10, "indentation error: unexpected indent"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "problem_code", "line", "column", "fragment"), RULES)
def test_each_rule_reports_its_code_line_column_and_message(
    code: str, problem_code: str, line: int, column: int, fragment: str
) -> None:
    verdict = validate_strategy_code(code)

    matching = [p for p in verdict.problems if p.code == problem_code]
    assert not verdict.ok
    assert matching, verdict.problems
    assert (matching[0].line, matching[0].column) == (line, column), matching[0]
    assert fragment in matching[0].message


def test_problem_renders_as_a_line_prefixed_sentence() -> None:
    problem = only_problem(
        "from strategy import Strategy\nimport os\n" + HEADER[31:] + "        pass\n"
    )

    assert str(problem) == (
        'line 2: importing "os" is not allowed; '
        "the allowed modules are indicators, math, numpy, strategy"
    )


def test_every_problem_is_listed_in_source_order() -> None:
    verdict = validate_strategy_code(
        "import os\nimport sys\n" + in_next("eval('1')", "x = self._y", "global z")
    )

    assert [(p.line, p.code) for p in verdict.problems] == [
        (1, "forbidden_import"),
        (2, "forbidden_import"),
        (8, "forbidden_name"),
        (9, "private_name"),
        (10, "forbidden_syntax"),
    ]


def test_allowed_constructs_pass() -> None:
    code = in_next(
        "for _ in range(3): pass",
        'x = getattr(self, "level", None)',
        'label = "{} {:.2f} {name}".format(1, 2.0, name="x")',
        "y = super().next",
        "values = [v ** 2 for v in range(5) if v % 2]",
        "fn = lambda a, b=2: a + b",
        "if (n := len(values)) > 2: print(n)",
        "try:",
        "    z = 1 / 0",
        "except ZeroDivisionError as error:",
        "    z = str(error)",
    )

    assert validate_strategy_code(code).ok, validate_strategy_code(code).problems


def test_compile_strategy_raises_with_the_verdict() -> None:
    with pytest.raises(StrategyValidationError) as caught:
        compile_strategy("import os\n")

    assert caught.value.verdict.codes == {"forbidden_import", "no_strategy_class"}
    assert 'importing "os"' in str(caught.value)


# --- parameters -------------------------------------------------------------------------

PARAMETER_PROBLEMS = [
    ("fast = Param(10, min=20)", "invalid_parameter", "below min"),
    ("fast = Param(10, max=5)", "invalid_parameter", "above max"),
    ("fast = Param(10, min=8, max=2)", "invalid_parameter", "greater than max"),
    ("fast = Param(10, step=0)", "invalid_parameter", "step must be greater than 0"),
    ("fast = Param(10, min=2.5)", "invalid_parameter", "whole number"),
    ("fast = Param(True, min=0)", "invalid_parameter", "only applies to numbers"),
    ('fast = Param("a", choices=["b", "c"])', "invalid_parameter", "not one of the choices"),
    ("fast = Param(1, choices=[1, 2.5])", "invalid_parameter", "default's type"),
    ("fast = Param(1, choices=[])", "invalid_parameter", "between 1 and"),
    ("fast = Param(1, choices=[1, 1])", "invalid_parameter", "duplicates"),
    ("fast = Param(1, min=0, max=5, choices=[1, 9])", "invalid_parameter", "between min and max"),
    ("fast = Param(1e999)", "invalid_parameter", "finite"),
    ("fast = Param(None)", "parameter_not_literal", "literal number, bool or string"),
    ("fast = Param(-True)", "parameter_not_literal", "literal"),
    ("fast = Param(float('nan'))", "parameter_not_literal", "literal"),
    ("fast = Param(1, minimum=0)", "invalid_parameter", 'no option "minimum"'),
    ("fast = Param()", "invalid_parameter", "exactly one positional"),
    ("fast = Param(1, description=2)", "invalid_parameter", "description"),
    ("fast = Param(2 * 5)", "parameter_not_literal", "literal"),
    ("fast = Param(10, max=LIMIT)", "parameter_not_literal", "max must be a literal"),
    ("fast = Param(1, choices=range(3))", "parameter_not_literal", "literal list"),
    ("fast = Param(*args)", "parameter_not_literal", "no *args"),
    ("fast = slow = Param(1)", "invalid_parameter", "one parameter per line"),
    ("data = Param(1)", "reserved_parameter_name", '"data" is already'),
]


@pytest.mark.parametrize(("declaration", "problem_code", "fragment"), PARAMETER_PROBLEMS)
def test_parameter_declarations_are_checked(
    declaration: str, problem_code: str, fragment: str
) -> None:
    code = f"from strategy import Strategy, Param\nclass S(Strategy):\n    {declaration}\n"
    verdict = validate_strategy_code(code + "    def next(self): pass\n")

    assert not verdict.ok
    assert {(p.code, p.line) for p in verdict.problems} == {(problem_code, 3)}
    assert any(fragment in p.message for p in verdict.problems), verdict.problems
    assert verdict.parameters == []


def test_duplicate_parameter_names_are_reported_at_the_second() -> None:
    code = "from strategy import Strategy, Param\nclass S(Strategy):\n"
    code += "    fast = Param(1)\n    fast = Param(2)\n    def next(self): pass\n"

    problem = only_problem(code)

    assert (problem.code, problem.line) == ("duplicate_parameter", 4)


def test_param_used_outside_the_strategy_class_is_reported() -> None:
    code = (
        "from strategy import Strategy, Param\nLIMIT = Param(3)\n" + HEADER[30:] + "        pass\n"
    )

    assert only_problem(code).code == "misplaced_parameter"


def test_parameters_via_module_import_and_aliases_are_extracted() -> None:
    code = (
        "import strategy\nfrom strategy import Param as P\n"
        "class S(strategy.Strategy):\n    a = strategy.Param(-3, min=-5)\n    b = P(0.5)\n"
        "    def next(self): pass\n"
    )
    verdict = validate_strategy_code(code)

    assert verdict.ok, verdict.problems
    assert [(p.name, p.default, p.min) for p in verdict.parameters] == [
        ("a", -3, -5),
        ("b", 0.5, None),
    ]


# --- Unicode, encodings and odd input ---------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "python_reads"),
    [
        ("\uff45\uff58\uff45\uff43", "exec"),  # fullwidth
        ("\u212fval", "eval"),  # script small e
        ("\U0001d428\U0001d429\U0001d41e\U0001d427", "open"),  # mathematical bold
        ("\U0001d567\U0001d552\U0001d563\U0001d564", "vars"),  # double-struck
    ],
)
def test_lookalike_identifiers_are_checked_as_python_reads_them(
    identifier: str, python_reads: str
) -> None:
    verdict = validate_strategy_code(in_next(f"{identifier}()"))

    assert verdict.codes == {"forbidden_name", "lookalike_identifier"}
    messages = " ".join(problem.message for problem in verdict.problems)
    assert f'"{python_reads}" is not allowed' in messages


def test_fullwidth_underscores_in_attributes_and_getattr_strings_are_private() -> None:
    # In source the fullwidth low line is not even an identifier character; in a
    # getattr() string it would normalise to "_".
    in_attribute = validate_strategy_code(in_next("a = self.\uff3f\uff3fclass\uff3f\uff3f"))
    in_string = validate_strategy_code(
        in_next('b = getattr(self, "\uff3f\uff3fclass\uff3f\uff3f")')
    )

    assert in_attribute.codes == {"syntax_error"}
    assert in_string.codes == {"private_name"}


def test_non_ascii_identifiers_in_normal_form_are_fine() -> None:
    assert validate_strategy_code(in_next("größe = 1", "self.ümsatz = größe")).ok


@pytest.mark.parametrize(
    "declaration",
    [
        "# -*- coding: utf-7 -*-",
        "# coding=latin-1",
        "#!/bin/py\n# vim: fileencoding=cp1252",
        "# coding: no-such-codec",
    ],
)
def test_source_encodings_other_than_utf8_are_rejected(declaration: str) -> None:
    problems = validate_strategy_code(declaration + "\n" + in_next("pass")).problems

    assert [p.code for p in problems] == ["invalid_encoding"]
    assert "must be UTF-8" in problems[0].message


def test_a_utf8_coding_declaration_is_fine() -> None:
    assert validate_strategy_code("# -*- coding: utf-8 -*-\n" + in_next("pass")).ok


def test_nul_bytes_are_rejected_before_parsing() -> None:
    problem = only_problem(in_next("x = 1\x00"))

    assert (problem.code, problem.line) == ("null_byte", 6)


def test_lone_surrogates_are_rejected() -> None:
    assert only_problem(in_next('x = "\ud800"')).code == "invalid_encoding"


@pytest.mark.parametrize("value", [None, b"import os", 42, ["code"]])
def test_non_text_input_is_a_problem_not_an_exception(value: object) -> None:
    verdict = validate_strategy_code(value)  # type: ignore[arg-type]

    assert verdict.codes == {"invalid_input"}


# --- limits -----------------------------------------------------------------------------


@pytest.fixture
def bounded(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Verdict]:
    """Validate oversized input and prove the expensive stages never saw it.

    The work is bounded by construction, not by a clock: input over the byte limit never
    reaches the parser, and a tree over the depth or node limit never reaches the rule walk
    (the only stage whose cost grows with what the code does). Timings of these worst cases
    live in `benchmarks/validation`.
    """
    from strategies.validation import validate as validate_module

    def refuse(*_args: Any) -> None:
        raise AssertionError("an oversized input reached a stage that should never see it")

    def run(code: str, *, parsed: bool = True) -> Verdict:
        with monkeypatch.context() as patch:
            patch.setattr(validate_module, "_check_tree", refuse)
            if not parsed:
                patch.setattr(validate_module, "parse_source", refuse)
            return validate_strategy_code(code)

    return run


def test_code_over_the_size_limit_is_rejected_before_parsing(bounded) -> None:
    code = in_next("pass")
    code += "#" * (MAX_CODE_BYTES + 1 - len(code.encode()))

    assert bounded(code, parsed=False).codes == {"code_too_large"}
    assert validate_strategy_code(code[:-1]).ok


def test_size_limit_counts_utf8_bytes_not_characters(bounded) -> None:
    code = in_next("pass") + "# " + "€" * (MAX_CODE_BYTES // 3)

    assert bounded(code, parsed=False).codes == {"code_too_large"}


def test_too_many_lines_are_rejected(bounded) -> None:
    assert "too_many_lines" in bounded(in_next("pass") + "\n" * MAX_LINES).codes


@pytest.mark.parametrize(
    "bomb",
    [
        "(" * 10_000,
        "x = " + "-" * 90_000 + "1",
        "x = " + "not " * 20_000 + "y",
        "x = 1" + " + 1" * 20_000,
        "x = a" + ".b" * 40_000,
        "x = f" + "()" * 40_000,
        "x = " + "lambda: " * 10_000 + "1",
        "x = " + "[" * 150 + "]" * 150,
    ],
)
def test_depth_bombs_become_problems_before_the_rule_walk(bomb: str, bounded) -> None:
    verdict = bounded(bomb)

    assert verdict.codes <= {"too_deeply_nested", "syntax_error"}
    assert verdict.codes


def test_an_expression_just_over_the_depth_limit_is_reported_at_its_line() -> None:
    code = in_next("x = 1" + " + 1" * MAX_AST_DEPTH)

    problem = only_problem(code)

    assert (problem.code, problem.line) == ("too_deeply_nested", 6)


def test_huge_node_counts_are_rejected_before_the_rule_walk(bounded) -> None:
    code = in_next("pass") + "x = [" + "a," * 49_000 + "]\n"

    assert bounded(code).codes == {"too_many_nodes"}


def test_huge_integer_literals_are_a_syntax_problem(bounded) -> None:
    assert bounded(in_next("x = " + "9" * 5_000)).codes == {"syntax_error"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_fuzz_arbitrary_text_never_raises(code: str) -> None:
    verdict = validate_strategy_code(code)

    assert isinstance(verdict, Verdict)
    assert verdict.ok == (not verdict.problems)


_FRAGMENTS = st.sampled_from(
    [
        "class S(Strategy):\n",
        "    def next(self):\n",
        "        ",
        "from strategy import Strategy\n",
        "x",
        " = ",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ":",
        "\n",
        "    ",
        "self.",
        "__class__",
        "getattr",
        "Param(",
        "1",
        "-",
        "'a'",
        '"{0.x}"',
        ".format",
        "yield ",
        "lambda ",
        "if ",
        "for ",
        " in ",
        "import ",
        "numpy",
        "os",
        ",",
        "*",
        "**",
        "@",
        "async ",
        "await ",
        "global ",
        "\\",
        "#",
        "\uff45",
        "\x00",
        "\ud800",
        "\r",
        "\t",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, max_size=60).map("".join))
def test_fuzz_python_like_text_never_raises(code: str) -> None:
    verdict = validate_strategy_code(code)

    assert verdict.ok == (not verdict.problems)
    if verdict.ok:
        assert isinstance(compile_strategy(code), CodeType)


# --- attack corpus ----------------------------------------------------------------------

_EXPECT_RE = re.compile(r"^# expect: (\w+) line (\d+)$")


def _corpus() -> list[Any]:
    cases = []
    for path in sorted(CORPUS.glob("*.py.txt")):
        source = path.read_text(encoding="utf-8")
        match = _EXPECT_RE.match(source.splitlines()[0])
        assert match, f"{path.name} lacks its '# expect: <code> line <n>' header"
        cases.append(pytest.param(source, match.group(1), int(match.group(2)), id=path.stem))
    return cases


def test_attack_corpus_is_large_enough() -> None:
    assert len(_corpus()) >= 25


@pytest.mark.parametrize(("source", "expected_code", "expected_line"), _corpus())
def test_attack_corpus_is_rejected_with_the_right_problem(
    source: str, expected_code: str, expected_line: int
) -> None:
    verdict = validate_strategy_code(source)

    assert not verdict.ok
    assert (expected_code, expected_line) in {(p.code, p.line) for p in verdict.problems}, (
        verdict.problems
    )
    with pytest.raises(StrategyValidationError):
        compile_strategy(source)


def test_attack_corpus_sources_parse_as_python() -> None:
    # Each attack must be real Python so it tests the policy, not the parser.
    for param in _corpus():
        source = param.values[0]
        if param.values[1] not in ("invalid_encoding", "syntax_error"):
            ast.parse(source)


# --- packaging --------------------------------------------------------------------------


def test_the_package_imports_neither_django_nor_our_other_apps() -> None:
    script = (
        "import sys, strategies.validation\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'rest_framework', 'celery', 'redis', 'backtesting', 'accounts', 'numpy'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True)


def test_strategies_package_init_stays_empty() -> None:
    assert (REPO / "strategies" / "__init__.py").read_text().strip() == ""
