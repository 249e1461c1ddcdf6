"""The disk that holds VAR_DIR, as /health and /metrics both report it."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings


def existing_ancestor(path: Path) -> Path:
    """`path`, or its nearest existing parent: the filesystem that holds (or will hold) it.

    VAR_DIR is made by whatever first writes there; with PostgreSQL and Redis nothing may have.
    """
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def var_dir_disk_usage() -> shutil._ntuple_diskusage:
    """Total, used and free bytes of the filesystem VAR_DIR lives (or will live) on."""
    return shutil.disk_usage(existing_ancestor(settings.VAR_DIR))
