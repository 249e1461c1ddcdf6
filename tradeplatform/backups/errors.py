"""What can go wrong with a backup or a restore; the commands print the message as it is."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore could not be done (a tool failed, a bad argument, a missing file)."""


class BackupCorruptError(BackupError):
    """The dump does not match its manifest (checksum, size) or cannot be read: never restored."""


class RestoreRefusedError(BackupError):
    """The restore would overwrite data or mix vendors; nothing was changed."""
