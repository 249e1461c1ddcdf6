"""Parameter sweeps: a strategy run over many parameter combinations, chunk by chunk, on workers.

See docs/research.md ("Parameter sweeps") for the design: the sweep row, its chunks (each a job
on the shared lifecycle) and one result row per combination.
"""
