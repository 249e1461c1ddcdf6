"""Research statistics over many backtests: pure NumPy and the standard library, no Django.

Deflated Sharpe ratio, Monte Carlo resampling, random-entry significance, walk-forward
windows, sweep ranking and parameter constraints. Conventions: docs/metrics.md, "Research
statistics". Import from the submodules (``research.deflated_sharpe`` ...); each lists its
public names in ``__all__``.
"""
