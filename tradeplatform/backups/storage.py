"""Where backups are kept: a directory, or an S3-compatible bucket.

A store holds pairs `<name>.<ext>` + `<name>.manifest.json` and touches nothing else in its
place, so it may share a directory or a bucket prefix with other files.

S3: `s3://bucket/prefix`. boto3 takes the endpoint (`AWS_ENDPOINT_URL_S3` or
`AWS_ENDPOINT_URL`, for MinIO, Ceph, R2 ...), the region and the credentials (`AWS_*`
variables, a profile, or the pod's IAM role) from the environment as it always does; none
of them is ever printed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from tradeplatform.backups.errors import BackupError
from tradeplatform.backups.manifest import MANIFEST_SUFFIX, NAME_PREFIX, Manifest

S3_SCHEME = "s3://"
_DUMP_SUFFIXES = (".dump", ".sqlite3")


class BackupStore(Protocol):
    def staging_dir(self) -> Path: ...
    def save(self, manifest: Manifest, dump: Path) -> None: ...
    def manifests(self) -> list[Manifest]: ...
    def delete(self, manifest: Manifest) -> None: ...
    def load(self, name: str) -> Manifest: ...
    def fetch_dump(self, manifest: Manifest, workdir: Path) -> Path: ...


def newest_first(manifests: list[Manifest]) -> list[Manifest]:
    return sorted(manifests, key=lambda m: (m.created_at, m.name), reverse=True)


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def staging_dir(self) -> Path:
        # Inside the store: the final move of a finished dump is then a rename.
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

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
        return newest_first(
            [
                Manifest.from_json(path.read_text(encoding="utf-8"), source=str(path))
                for path in self.root.glob(f"{NAME_PREFIX}*{MANIFEST_SUFFIX}")
            ]
        )

    def delete(self, manifest: Manifest) -> None:
        # Manifest first: an interrupted delete leaves an unlisted dump, never a listed backup
        # whose dump is gone.
        (self.root / manifest.file_name).unlink(missing_ok=True)
        (self.root / manifest.dump_file).unlink(missing_ok=True)

    def load(self, name: str) -> Manifest:
        path = self.root / (name + MANIFEST_SUFFIX)
        if not path.exists():
            raise BackupError(f"No backup named {name} in {self.root} (no {path.name}).")
        return Manifest.from_json(path.read_text(encoding="utf-8"), source=str(path))

    def fetch_dump(self, manifest: Manifest, workdir: Path) -> Path:
        return self.root / manifest.dump_file  # read in place


class S3Store:
    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client: Any = None

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
        if not bucket:
            raise BackupError(f"{url} names no bucket; use s3://bucket/prefix.")
        return cls(bucket, prefix)

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # only here: a directory store needs no boto3 (see _s3_errors)

            self._client = boto3.client("s3")
        return self._client

    def key(self, file_name: str) -> str:
        return f"{self.prefix}/{file_name}" if self.prefix else file_name

    def staging_dir(self) -> Path:
        # The dump is written locally, checksummed, then uploaded: TMPDIR needs its size.
        return Path(tempfile.gettempdir())

    def save(self, manifest: Manifest, dump: Path) -> None:
        """Upload the dump, then the manifest: a listed backup always has its dump."""
        with _s3_errors(self):
            self.client.upload_file(str(dump), self.bucket, self.key(manifest.dump_file))
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(manifest.file_name),
                Body=manifest.to_json().encode(),
                ContentType="application/json",
            )

    def manifests(self) -> list[Manifest]:
        found = []
        with _s3_errors(self):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.key(NAME_PREFIX)
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    # Only this prefix's own files, not those of a deeper "directory".
                    if key.endswith(MANIFEST_SUFFIX) and "/" not in key[len(self.key("")) :]:
                        found.append(self._read_manifest(key))
        return newest_first(found)

    def delete(self, manifest: Manifest) -> None:
        with _s3_errors(self):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(manifest.file_name))
            self.client.delete_object(Bucket=self.bucket, Key=self.key(manifest.dump_file))

    def load(self, name: str) -> Manifest:
        key = self.key(name + MANIFEST_SUFFIX)
        with _s3_errors(self, missing=f"No backup named {name} in {self} (no {key})."):
            return self._read_manifest(key)

    def fetch_dump(self, manifest: Manifest, workdir: Path) -> Path:
        local = workdir / manifest.dump_file
        key = self.key(manifest.dump_file)
        with _s3_errors(self, missing=f"The dump {key} named by the manifest is missing."):
            self.client.download_file(self.bucket, key, str(local))
        return local

    def _read_manifest(self, key: str) -> Manifest:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return Manifest.from_json(body.decode("utf-8"), source=f"{S3_SCHEME}{self.bucket}/{key}")


@contextmanager
def _s3_errors(store: S3Store, *, missing: str = "") -> Iterator[None]:
    """botocore's errors as BackupError naming the store, never the credentials."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        raise BackupError("s3:// destinations need boto3 (requirements.txt).") from exc
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if missing and code in ("404", "NoSuchKey"):
            raise BackupError(missing) from exc
        raise BackupError(f"S3 store {store}: {exc}") from exc
    except BotoCoreError as exc:
        raise BackupError(f"S3 store {store}: {exc}") from exc


def store_for(location: str) -> BackupStore:
    """A directory path or an s3://bucket/prefix URL."""
    if location.startswith(S3_SCHEME):
        return S3Store.from_url(location)
    return DirectoryStore(Path(location))


def locate_backup(reference: str, default_location: str) -> tuple[BackupStore, str]:
    """The store and backup name that `reference` means.

    A path or s3:// URL of a manifest or a dump, or a backup's name in the default store.
    """
    if reference.startswith(S3_SCHEME):
        folder, _, file_name = reference.rpartition("/")
        return S3Store.from_url(folder), _backup_name(file_name)
    path = Path(reference)
    if path.is_file():
        return DirectoryStore(path.parent), _backup_name(path.name)
    if os.sep in reference or reference.endswith((MANIFEST_SUFFIX, *_DUMP_SUFFIXES)):
        raise BackupError(f"No backup file at {reference}.")
    return store_for(default_location), reference


def _backup_name(file_name: str) -> str:
    for suffix in (MANIFEST_SUFFIX, *_DUMP_SUFFIXES):
        if file_name.endswith(suffix):
            return file_name[: -len(suffix)]
    raise BackupError(f"{file_name} is neither a backup manifest nor a dump.")
