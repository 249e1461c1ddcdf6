"""Checks on what the child returns before anyone trusts it (it ran next to user code)."""

from __future__ import annotations

from typing import Any

from backtesting.sandbox.errors import InvalidOutputError

# Top-level keys of BacktestResult.to_dict() and the JSON types each must have.
RESULT_SCHEMA: dict[str, type | tuple[type, ...]] = {
    "engine_version": str,
    "mode": str,
    "symbols": list,
    "spec": dict,
    "start_bar": int,
    "eval_start_bar": int,
    "equity_curve": dict,
    "trades": list,
    "orders": list,
    "statistics": dict,
}


def validate_result(result: Any) -> dict[str, Any]:
    """Return the result when it has the engine's shape; raise InvalidOutputError otherwise."""
    if not isinstance(result, dict):
        raise InvalidOutputError("The result is not an object.")
    for key, expected in RESULT_SCHEMA.items():
        if key not in result:
            raise InvalidOutputError(f"The result lacks '{key}'.")
        if not isinstance(result[key], expected) or (
            isinstance(result[key], bool) and expected in (int, float)
        ):
            raise InvalidOutputError(f"The result's '{key}' has the wrong type.")
    unknown = set(result) - set(RESULT_SCHEMA)
    if RESULT_SCHEMA and unknown:
        raise InvalidOutputError(f"The result has unexpected keys: {sorted(unknown)[:5]}.")
    return result
