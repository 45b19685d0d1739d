"""Back up and restore the embedded instance: the SQLite database and the data folder, in one tar archive.

The database is copied with SQLite's online backup API (a consistent snapshot
while the app keeps running); every other file of the data directory (media,
uploads, model artifacts, the session signing key) goes in beside it under
`data/`. `manifest.json`, written last, lists each file's size and SHA-256, the
schema revision and the row count of every table.

A restore first unpacks into a staging folder inside the data directory,
refusing unsafe paths, and checks every file against the manifest; only then
does it replace the data files and copy the database into the live one, again
with the backup API, so an engine that is already open sees the restored rows.
An archive that does not verify changes nothing. The archive holds password
hashes and the signing key: it is written readable by its owner only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

import sqlalchemy as sa

from core.settings import Settings, get_settings
from db.engine import make_engine
from db.migrate import current_revision, upgrade_to_head

FORMAT = "cluelab-backup/1"
MANIFEST = "manifest.json"
DATABASE_MEMBER = "cluelab.db"
DATA_PREFIX = "data"
_BUFFER = 1024 * 1024
# Beside the database and not part of an instance's state: SQLite's side files, the write lock, the job queue.
_SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal", ".writelock")
_STAGING = ".restore-"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message is one line for a person."""


@dataclass
class Manifest:
    created_at: str
    revision: str | None
    rows: dict[str, int]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")

    @property
    def data_files(self) -> int:
        return sum(1 for name in self.files if name.startswith(f"{DATA_PREFIX}/"))


def _database_path(settings: Settings) -> Path:
    if not settings.is_sqlite:
        raise BackupError("backup and restore cover the embedded SQLite database; for PostgreSQL use pg_dump "
                          "and pg_restore, and copy the data directory's media folder beside it")
    path = sa.engine.make_url(settings.sqlalchemy_url).database
    if not path or path == ":memory:":
        raise BackupError("the database is in memory; there is nothing on disk to back up")
    return Path(path).resolve()


def _is_instance_file(path: Path, *, data_dir: Path, database: Path, archive: Path | None) -> bool:
    """Files of the data directory that make up the instance (not the database itself, its side files, the
    job queue, a restore's staging folder, or the archive being written)."""
    relative = path.relative_to(data_dir)
    if relative.parts[0].startswith(_STAGING) or (archive is not None and path.resolve() == archive):
        return False
    if path.resolve() == database or (path.name.startswith(database.name) and path.name.endswith(_SKIPPED_SUFFIXES)):
        return False
    return not (path.name.startswith("queue.db") and len(relative.parts) == 1)


def _instance_files(data_dir: Path, *, database: Path, archive: Path | None) -> Iterator[Path]:
    if not data_dir.is_dir():
        return
    for root, dirs, files in os.walk(data_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink() and \
                    _is_instance_file(path, data_dir=data_dir, database=database, archive=archive):
                yield path


def _row_counts(database: Path) -> dict[str, int]:
    engine = make_engine(f"sqlite:///{database}")
    try:
        names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
        with engine.connect() as connection:
            return {n: int(connection.execute(sa.text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one()) for n in names}
    finally:
        engine.dispose()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_BUFFER):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database through the online backup API."""
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.execute("PRAGMA busy_timeout=30000")
        reading.backup(writing)
    # Close explicitly: the context managers only end transactions.
    reading.close()
    writing.close()


def _mode(archive: Path, writing: bool) -> str:
    gz = archive.name.endswith((".tar.gz", ".tgz"))
    return ("w:gz" if gz else "w") if writing else "r:*"


def backup_instance(archive: Path, *, settings: Settings | None = None) -> Manifest:
    """Write the instance (database snapshot and data folder) to `archive`, a .tar or .tar.gz file."""
    settings = settings or get_settings()
    database = _database_path(settings)
    if not database.is_file():
        raise BackupError(f"no database at {database} yet: there is nothing to back up")
    data_dir = settings.data_dir.resolve()
    archive = archive.expanduser().resolve()
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cluelab-backup-") as scratch:
        snapshot = Path(scratch) / DATABASE_MEMBER
        _sqlite_copy(database, snapshot)
        engine = make_engine(f"sqlite:///{snapshot}")
        try:
            revision = current_revision(engine)
        finally:
            engine.dispose()
        manifest = Manifest(created_at=datetime.now(UTC).isoformat(), revision=revision,
                            rows=_row_counts(snapshot))
        partial = archive.with_name(f".{archive.name}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode=_mode(archive, True)) as tar:
                _add(tar, snapshot, DATABASE_MEMBER, manifest)
                for path in _instance_files(data_dir, database=database, archive=archive):
                    _add(tar, path, f"{DATA_PREFIX}/{path.relative_to(data_dir).as_posix()}", manifest)
                body = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), int(datetime.now(UTC).timestamp()), 0o600
                tar.addfile(info, _BytesReader(body))
            os.chmod(partial, 0o600)
            os.replace(partial, archive)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return manifest


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        out, self._at = self._data[self._at:end], min(end, len(self._data))
        return out


class _HashingReader:
    """A file read once: into the archive and through SHA-256 at the same time."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _add(tar: tarfile.TarFile, path: Path, name: str, manifest: Manifest) -> None:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as handle:
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
    if reader.size != info.size:
        raise BackupError(f"{path} changed size while it was being backed up; run the backup again")
    manifest.files[name] = {"size": reader.size, "sha256": reader.digest.hexdigest()}


# --- restore ---------------------------------------------------------------------------


def instance_contents(settings: Settings | None = None) -> str | None:
    """What the instance holds, in words (rows, data files), or None when it is empty."""
    settings = settings or get_settings()
    database = _database_path(settings)
    held = []
    if database.is_file():
        rows = sum(_row_counts(database).values())
        if rows:
            held.append(f"{rows} database row(s)")
    files = sum(1 for path in _instance_files(settings.data_dir.resolve(), database=database, archive=None)
                if path.name != "secret_key")
    if files:
        held.append(f"{files} data file(s)")
    return ", ".join(held) or None


def _safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(part in ("..", "") for part in path.parts) or "\\" in name:
        raise BackupError(f"the archive holds an unsafe path {name!r}; refusing it")
    return path


def _unpack(archive: Path, staging: Path) -> tuple[Manifest, dict[str, dict[str, Any]]]:
    """Unpack regular files into `staging` (hashing them); the manifest and what was found."""
    found: dict[str, dict[str, Any]] = {}
    manifest_body: bytes | None = None
    try:
        tar = tarfile.open(archive, mode=_mode(archive, False))  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as error:
        raise BackupError(f"{archive} is not a ClueLab backup ({error})") from None
    with tar:
        try:
            for member in tar:
                path = _safe_member_path(member.name)
                if member.isdir():
                    continue
                if not member.isfile():
                    raise BackupError(f"the archive holds {member.name!r}, which is not a plain file; refusing it")
                source = tar.extractfile(member)
                if member.name == MANIFEST:
                    manifest_body = source.read()
                    continue
                if member.name in found:
                    raise BackupError(f"the archive holds {member.name!r} twice; refusing it")
                target = staging.joinpath(*path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while chunk := source.read(_BUFFER):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                found[member.name] = {"size": size, "sha256": digest.hexdigest()}
        except (tarfile.TarError, EOFError, OSError) as error:
            raise BackupError(f"{archive} is not a ClueLab backup or is cut short ({error})") from None
    if manifest_body is None:
        raise BackupError(f"{archive} is not a ClueLab backup (it has no {MANIFEST})")
    try:
        fields = json.loads(manifest_body)
        manifest = Manifest(**fields)
    except (ValueError, TypeError) as error:
        raise BackupError(f"{archive} has an unreadable {MANIFEST} ({error})") from None
    return manifest, found


def _verify(manifest: Manifest, found: dict[str, dict[str, Any]], staging: Path) -> None:
    if manifest.format != FORMAT:
        raise BackupError(f"unknown backup format {manifest.format!r} (this ClueLab reads {FORMAT})")
    extra = sorted(set(found) - set(manifest.files))
    if extra:
        raise BackupError(f"the archive holds {extra[0]!r}, which is not in its manifest; refusing it")
    missing = sorted(set(manifest.files) - set(found))
    if missing:
        raise BackupError(f"the archive lacks {missing[0]!r}, which its manifest lists; it is incomplete")
    for name, expected in manifest.files.items():
        if found[name] != {"size": expected.get("size"), "sha256": expected.get("sha256")}:
            raise BackupError(f"{name} does not match the manifest's size and SHA-256: the archive is damaged")
    if DATABASE_MEMBER not in found:
        raise BackupError(f"the archive holds no {DATABASE_MEMBER}")
    database = staging / DATABASE_MEMBER
    with sqlite3.connect(database) as connection:
        result = connection.execute("PRAGMA integrity_check").fetchone()
    connection.close()
    if not result or result[0] != "ok":
        raise BackupError(f"the archived database fails SQLite's integrity check ({result[0] if result else '?'})")
    if _row_counts(database) != manifest.rows:
        raise BackupError("the archived database's row counts differ from its manifest")


def restore_instance(archive: Path, *, force: bool = False, settings: Settings | None = None) -> Manifest:
    """Replace the instance with the one in `archive` (verified first); a non-empty instance needs `force`."""
    settings = settings or get_settings()
    database = _database_path(settings)
    archive = archive.expanduser().resolve()
    if not archive.is_file():
        raise BackupError(f"no backup file at {archive}")
    held = instance_contents(settings)
    if held and not force:
        raise BackupError(f"this instance ({settings.data_dir}) is not empty: it holds {held}; "
                          "pass --force to replace it with the backup")
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=data_dir))
    try:
        manifest, found = _unpack(archive, staging)
        _verify(manifest, found, staging)
        _replace_data_files(data_dir, staging / DATA_PREFIX, database=database, archive=archive)
        database.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(staging / DATABASE_MEMBER, database)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade_to_head(engine)  # a backup from an older ClueLab is brought to this one's schema
    finally:
        engine.dispose()
    return manifest


def _replace_data_files(data_dir: Path, staged: Path, *, database: Path, archive: Path) -> None:
    """The data folder becomes the staged one: files not in the backup go, the backup's files move in."""
    for path in list(_instance_files(data_dir, database=database, archive=archive)):
        path.unlink()
    for root, dirs, _files in os.walk(data_dir, topdown=False):
        for name in dirs:
            folder = Path(root) / name
            if not folder.name.startswith(_STAGING) and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    if not staged.is_dir():
        return
    for path in sorted(p for p in staged.rglob("*") if p.is_file()):
        target = data_dir / path.relative_to(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
