"""Models of the backtesting app."""
