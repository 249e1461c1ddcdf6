"""The validation and compile policy for user strategy code (Django-free).

The jailed sandbox child imports this package too, so it uses only the standard
library and RestrictedPython. See docs/sandbox-policy.md for every rule and its
reason, and ``strategies.validation.policy`` for the guard names compiled code needs.
"""

from strategies.validation.allowlists import (
    ALLOWED_DECORATORS,
    ALLOWED_MODULES,
    FORBIDDEN_ATTRIBUTES,
    FORBIDDEN_NAMES,
)
from strategies.validation.limits import MAX_AST_DEPTH, MAX_AST_NODES, MAX_CODE_BYTES, MAX_LINES
from strategies.validation.policy import GUARD_NAMES
from strategies.validation.results import (
    ParameterSpec,
    Problem,
    StrategyValidationError,
    Verdict,
)
from strategies.validation.structure import NEXT_STYLE, SIGNALS_STYLE, strategy_style
from strategies.validation.validate import compile_strategy, validate_strategy_code

__all__ = [
    "ALLOWED_DECORATORS",
    "ALLOWED_MODULES",
    "FORBIDDEN_ATTRIBUTES",
    "FORBIDDEN_NAMES",
    "GUARD_NAMES",
    "MAX_AST_DEPTH",
    "MAX_AST_NODES",
    "MAX_CODE_BYTES",
    "MAX_LINES",
    "NEXT_STYLE",
    "SIGNALS_STYLE",
    "ParameterSpec",
    "Problem",
    "StrategyValidationError",
    "Verdict",
    "compile_strategy",
    "strategy_style",
    "validate_strategy_code",
]
