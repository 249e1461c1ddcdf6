"""The manifest written beside every dump: what it is, where it came from, how to check it.

`<name>.manifest.json` is written last, after the dump is complete and checksummed, so a
backup without a manifest is an unfinished one and is neither listed nor restored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tradeplatform.backups.errors import BackupCorruptError

FORMAT_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
NAME_PREFIX = "tradeplatform-"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    name: str
    created_at: str  # UTC, ISO 8601
    vendor: str  # "postgresql" or "sqlite"
    database: str  # the source database's name (never its host or credentials)
    dump_file: str  # beside the manifest
    size_bytes: int
    sha256: str
    # The schema version: the latest applied migration of every app, {app: name}.
    migrations: dict[str, str]
    app_version: str
    server_version: str = ""
    dump_tool: str = ""
    duration_seconds: float = 0.0
    format_version: int = FORMAT_VERSION

    @property
    def file_name(self) -> str:
        return self.name + MANIFEST_SUFFIX

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> Manifest:
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format_version") != FORMAT_VERSION:
                raise BackupCorruptError(
                    f"{source}: manifest format {data.get('format_version')!r} is not "
                    f"{FORMAT_VERSION}; this release cannot read it."
                )
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise BackupCorruptError(f"{source} is not a valid backup manifest: {exc}") from exc


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_dump(manifest: Manifest, dump: Path) -> None:
    """The dump is the one the manifest describes, byte for byte, or BackupCorruptError."""
    if not dump.exists():
        raise BackupCorruptError(f"The dump {dump.name} named by the manifest is missing.")
    size = dump.stat().st_size
    if size != manifest.size_bytes:
        raise BackupCorruptError(
            f"The dump {dump.name} is {size} bytes, the manifest says {manifest.size_bytes}: "
            "it is truncated or was changed. Refusing to restore it."
        )
    actual = file_sha256(dump)
    if actual != manifest.sha256:
        raise BackupCorruptError(
            f"The dump {dump.name} fails its checksum (SHA-256 {actual[:16]}..., the manifest "
            f"says {manifest.sha256[:16]}...): it is corrupted or was changed. "
            "Refusing to restore it."
        )
