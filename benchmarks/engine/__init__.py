"""Engine speed benchmarks: ``.venv/bin/python -m benchmarks.engine.run`` (never in unit tests)."""
