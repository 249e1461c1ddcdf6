"""Template filters of the backtesting pages."""
