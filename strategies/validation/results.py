"""Result types of strategy validation: problems, parameters and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# One ParameterSpec for the validator, the engine and the API (see strategies.paramspec).
from strategies.paramspec import ParameterSpec, ParamValue

__all__ = ["ParamValue", "ParameterSpec", "Problem", "StrategyValidationError", "Verdict"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a strategy file.

    ``line`` and ``column`` are 1-based (column counts characters, not bytes);
    0 means the problem concerns the whole file. ``code`` is a stable machine id
    (``forbidden_import``, ``syntax_error``, ...); ``message`` is for the user.
    """

    line: int
    column: int
    code: str
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return self.message
        return f"line {self.line}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of validating one strategy file; ``ok`` is true only without problems."""

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    parameters: list[ParameterSpec] = field(default_factory=list)
    class_name: str | None = None

    @property
    def codes(self) -> set[str]:
        return {problem.code for problem in self.problems}

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [problem.to_dict() for problem in self.problems],
            "parameters": [parameter.to_dict() for parameter in self.parameters],
            "class_name": self.class_name,
        }


class StrategyValidationError(Exception):
    """Raised by ``compile_strategy`` when the code breaks the policy; carries the verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        summary = "; ".join(str(problem) for problem in verdict.problems[:5])
        more = len(verdict.problems) - 5
        if more > 0:
            summary += f"; and {more} more"
        super().__init__(summary or "strategy code rejected")
