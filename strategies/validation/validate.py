"""The two entry points: validate_strategy_code() and compile_strategy()."""

from __future__ import annotations

import ast
import io
import tokenize
from types import CodeType

from strategies.validation.limits import check_source_text, check_tree_size, parse_source
from strategies.validation.names import Finding, normalise
from strategies.validation.policy import restricted_compile
from strategies.validation.results import ParameterSpec, Problem, StrategyValidationError, Verdict
from strategies.validation.rules import PolicyChecker
from strategies.validation.source import Locator
from strategies.validation.structure import check_structure


def validate_strategy_code(code: str) -> Verdict:
    """Check user strategy code against the policy without running it.

    Returns a Verdict listing every problem found (sorted by position) and, when
    the strategy class could be read, its name and parameters. Never raises for
    bad code: whatever the input, the answer is a Verdict.
    """
    verdict, _ = _analyse(code)
    return verdict


def compile_strategy(code: str) -> CodeType:
    """Compile user strategy code with RestrictedPython under our policy.

    Returns the code object for the sandbox to execute with the guards listed in
    ``strategies.validation.policy``. Raises StrategyValidationError (carrying the
    Verdict) when the code breaks the policy.
    """
    verdict, code_object = _analyse(code)
    if not verdict.ok or code_object is None:
        raise StrategyValidationError(verdict)
    return code_object


def _analyse(code: object) -> tuple[Verdict, CodeType | None]:
    if not isinstance(code, str):
        problem = Problem(
            0, 0, "invalid_input", f"strategy code must be text, not {type(code).__name__}"
        )
        return Verdict(ok=False, problems=[problem]), None
    problems = check_source_text(code)
    if any(p.code in ("code_too_large", "invalid_encoding", "null_byte") for p in problems):
        return _verdict(problems), None  # the parser must never see such input
    tree = parse_source(code)
    if isinstance(tree, Problem):
        return _verdict([*problems, tree]), None
    locator = Locator(code)
    problems += check_tree_size(tree, locator.at)
    if problems:
        return _verdict(problems), None  # too big or deep to walk safely
    return _check_tree(code, tree, locator)


def _check_tree(code: str, tree: ast.Module, locator: Locator) -> tuple[Verdict, CodeType | None]:
    def report(node: ast.AST, finding: Finding) -> None:
        problems.append(locator.at(node, *finding))

    checker = PolicyChecker(locator.at)
    checker.visit(tree)
    problems = checker.problems + _lookalike_problems(code, locator)
    shape = check_structure(tree, report)
    code_object = None
    if not problems:
        # Second layer: anything RestrictedPython refuses that our walk let through
        # still blocks the strategy (reported as "restricted_python").
        code_object, problems = restricted_compile(code)
    verdict = _verdict(problems, shape.parameters, shape.class_name)
    return verdict, code_object


def _lookalike_problems(code: str, locator: Locator) -> list[Problem]:
    """Identifiers written in a form other than the one Python reads (e.g. fullwidth letters)."""
    problems = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.NAME and normalise(token.string) != token.string:
                line, column = token.start
                problems.append(
                    Problem(
                        line,
                        column + 1,
                        "lookalike_identifier",
                        f'the identifier "{token.string}" is read by Python as '
                        f'"{normalise(token.string)}"; write it in that plain form',
                    )
                )
    except (tokenize.TokenError, SyntaxError):
        pass  # ast.parse accepted the code; the tokenizer module is only stricter
    return problems


def _verdict(
    problems: list[Problem],
    parameters: list[ParameterSpec] | None = None,
    class_name: str | None = None,
) -> Verdict:
    ordered = sorted(set(problems), key=lambda p: (p.line, p.column, p.code, p.message))
    return Verdict(
        ok=not ordered, problems=ordered, parameters=parameters or [], class_name=class_name
    )
