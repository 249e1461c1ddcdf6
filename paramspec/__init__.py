"""Strategy parameters: one typed ``ParameterSpec`` for the validator, the engine and the API.

A pure package (standard library only, no app, no Django) at the bottom of the import graph,
so the engine (which may not import ``strategies``) and the strategy validator (which may not
import ``backtesting``) share one implementation of the rules. See docs/architecture.md.
"""

from paramspec.declaration import (
    MAX_CHOICES,
    MAX_DESCRIPTION_CHARS,
    PARAMETER_TYPES,
    ParamValue,
    kind_of,
)
from paramspec.space import ParameterSpace, ParamValues, Resolution
from paramspec.spec import (
    MAX_AXIS_VALUES,
    ParameterDeclarationError,
    ParameterSpec,
    ParameterValueError,
)

__all__ = [
    "MAX_AXIS_VALUES",
    "MAX_CHOICES",
    "MAX_DESCRIPTION_CHARS",
    "PARAMETER_TYPES",
    "ParamValue",
    "ParamValues",
    "ParameterDeclarationError",
    "ParameterSpace",
    "ParameterSpec",
    "ParameterValueError",
    "Resolution",
    "kind_of",
]
