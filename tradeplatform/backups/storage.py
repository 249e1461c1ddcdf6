"""Where backups are kept: a directory (local disk, a mounted volume or network share).

A store holds pairs `<name>.<ext>` + `<name>.manifest.json` and touches nothing else in its
place, so it may share a directory with other files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tradeplatform.backups.errors import BackupError
from tradeplatform.backups.manifest import MANIFEST_SUFFIX, NAME_PREFIX, Manifest


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def save(self, manifest: Manifest, dump: Path) -> None:
        """Move the finished dump in, then write the manifest: it marks the backup complete."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / manifest.dump_file
        if dump.resolve() != final.resolve():
            shutil.move(dump, final)
        partial = self.root / (manifest.file_name + ".partial")
        partial.write_text(manifest.to_json(), encoding="utf-8")
        partial.replace(self.root / manifest.file_name)  # atomic: never half a manifest

    def manifests(self) -> list[Manifest]:
        """Every complete backup here, newest first."""
        if not self.root.is_dir():
            return []
        found = [
            Manifest.from_json(path.read_text(encoding="utf-8"), source=str(path))
            for path in self.root.glob(f"{NAME_PREFIX}*{MANIFEST_SUFFIX}")
        ]
        return sorted(found, key=lambda m: (m.created_at, m.name), reverse=True)

    def delete(self, manifest: Manifest) -> None:
        # Manifest first: an interrupted delete leaves an unlisted dump, never a listed backup
        # whose dump is gone.
        (self.root / manifest.file_name).unlink(missing_ok=True)
        (self.root / manifest.dump_file).unlink(missing_ok=True)

    def dump_path(self, manifest: Manifest) -> Path:
        return self.root / manifest.dump_file

    def load(self, name: str) -> Manifest:
        path = self.root / (name + MANIFEST_SUFFIX)
        if not path.exists():
            raise BackupError(f"No backup named {name} in {self.root} (no {path.name}).")
        return Manifest.from_json(path.read_text(encoding="utf-8"), source=str(path))


def locate_backup(reference: str, default_store: DirectoryStore) -> tuple[DirectoryStore, str]:
    """The store and backup name that `reference` means.

    A path to a manifest or a dump file, or a backup's name in the default store.
    """
    path = Path(reference)
    if path.is_file():
        name = path.name
        stem = name[: -len(MANIFEST_SUFFIX)] if name.endswith(MANIFEST_SUFFIX) else path.stem
        return DirectoryStore(path.parent), stem
    if os.sep in reference or reference.endswith((MANIFEST_SUFFIX, ".dump", ".sqlite3")):
        raise BackupError(f"No backup file at {reference}.")
    return default_store, reference
