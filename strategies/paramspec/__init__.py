"""Strategy parameters: one typed ``ParameterSpec`` for the validator, the engine and the API.

Authoring owns the rules of a declared parameter, so they live in ``strategies``; the package is
pure (standard library only, no Django, nothing else of ours), so the engine may import it as
its one allowed import from ``strategies`` and the validator, the forms and the API share one
implementation of the rules. See docs/architecture.md.
"""

from strategies.paramspec.declaration import (
    MAX_CHOICES,
    MAX_DESCRIPTION_CHARS,
    PARAMETER_TYPES,
    ParamValue,
    kind_of,
)
from strategies.paramspec.space import ParameterSpace, ParamValues, Resolution
from strategies.paramspec.spec import (
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
