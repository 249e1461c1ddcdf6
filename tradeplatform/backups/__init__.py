"""Backups of the whole database and their restore (docs/operations.md, "Backups and restore").

The platform's own concern: it names no app, only Django's migration state. Entry points are
`manage.py backup` and `manage.py restore`; the workflows are in `services`.
"""
