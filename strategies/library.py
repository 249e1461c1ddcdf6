"""The example strategy library: plain source files in strategies/examples/.

Each file is an ordinary strategy (the same API users write) whose module docstring
supplies the title (first line) and the description (the rest). They are offered as
templates on the create page and by the API, and loaded for the demo user.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strategies.validation import validate_strategy_code

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
# Teaching order (each example adds one idea to the previous ones) and the short names
# strategies made from them get.
_NAMES = {
    "sma_crossover": "SMA crossover",
    "rsi_mean_reversion": "RSI mean reversion",
    "bollinger_breakout": "Bollinger breakout",
    "macd_trend": "MACD trend",
    "donchian_atr": "Donchian breakout with ATR stops",
    "momentum_rotation": "Momentum rotation",
}


@dataclass(frozen=True, slots=True)
class ExampleStrategy:
    slug: str
    name: str
    title: str
    description: str
    code: str
    class_name: str | None
    parameters: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "code": self.code,
            "class_name": self.class_name,
            "parameters": list(self.parameters),
        }


@functools.cache
def example_list() -> tuple[ExampleStrategy, ...]:
    """Every example, in teaching order (read once per process: the files ship with the code)."""
    paths = {path.stem: path for path in EXAMPLES_DIR.glob("*.py")}
    slugs = [slug for slug in _NAMES if slug in paths]
    slugs += sorted(set(paths) - set(_NAMES))
    return tuple(_load(slug, paths[slug]) for slug in slugs)


def example_get(slug: str) -> ExampleStrategy | None:
    return next((example for example in example_list() if example.slug == slug), None)


def _load(slug: str, path: Path) -> ExampleStrategy:
    code = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(code)) or slug.replace("_", " ").capitalize()
    title, _, rest = docstring.partition("\n")
    verdict = validate_strategy_code(code)
    return ExampleStrategy(
        slug=slug,
        name=_NAMES.get(slug, slug.replace("_", " ").capitalize()),
        title=title.strip().rstrip("."),
        description=rest.strip(),
        code=code,
        class_name=verdict.class_name,
        parameters=tuple(parameter.to_dict() for parameter in verdict.parameters),
    )
