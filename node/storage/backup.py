"""Backing up a node folder into one archive, and restoring it, possibly elsewhere.

A backup is a gzipped tar archive (mode 0600: it holds the private keys) of the whole node folder: ``node.json``,
``keys/`` (with ``history.json``), ``charter.json``, ``bundle.json``, a trades file, and with SQLite the
database, copied with SQLite's online backup API (a consistent snapshot of a database in WAL mode that the
running node keeps writing to; copying the file would not be). A PostgreSQL database is backed up with its own
tools (``pg_dump`` / ``pg_restore``, docs/operators.md): the archive then holds the folder only. A manifest,
``bigre-backup.json``, says what the archive holds (node, time, database kind, heads).

Restoring never deletes anything: a folder already at the target is moved aside
(``<folder>.before-restore-<time>``). The archive is unpacked next to the target and renamed into place, so a
failed restore leaves no half-written folder. Paths in ``node.json`` are relative to the folder, so the
restored folder reads its own database wherever it is put.

What a backup cannot hold is what the node published after it: at its next start the node takes that back from
its peers before signing anything new (:mod:`federation.recovery`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from node.config import CONFIG_FILE, DATABASE_FILE, RUNNING_MARKER, SQLITE_PREFIX, load_config
from node.errors import ConfigError, NodeError

MANIFEST: Final = "bigre-backup.json"
FORMAT: Final = 1
SQLITE_SIDE_FILES: Final = ("-wal", "-shm", "-journal")


class BackupError(NodeError):
    code = "backup"
    status = 500


@dataclass(slots=True)
class BackupReport:
    """What :func:`backup_node` wrote."""

    archive: Path
    name: str
    database: str  # "sqlite" or "postgresql"
    files: list[str] = field(default_factory=list)
    heads: dict[str, int] = field(default_factory=dict)  # with SQLite: the copy's heads
    database_bytes: int = 0


@dataclass(slots=True)
class RestoreReport:
    """What :func:`restore_node` did."""

    directory: Path
    name: str
    database: str
    created: int
    moved_aside: Path | None = None
    heads: dict[str, int] = field(default_factory=dict)


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite database URL (already resolved against the folder), or None for another database."""
    if not database_url.startswith(SQLITE_PREFIX):
        return None
    return Path(database_url[len(SQLITE_PREFIX) :].split("?", 1)[0])


def backup_node(directory: Path, archive: Path) -> BackupReport:
    """Write the folder (and, with SQLite, an online copy of its database) to the new archive ``archive``."""
    config = load_config(directory)
    archive = archive.resolve()
    if archive.exists():
        raise BackupError(f"{archive} already exists: give a new file name (a backup never overwrites one)")
    if archive.is_relative_to(config.directory):
        raise BackupError(f"{archive} is inside the node folder: put backups elsewhere")
    db_file = sqlite_path(config.database)
    report = BackupReport(archive, config.name, "sqlite" if db_file is not None else "postgresql")
    skip: set[Path] = set()
    db_name: str | None = None
    node_json: bytes | None = None
    if db_file is not None:
        skip = {db_file} | {db_file.with_name(db_file.name + s) for s in SQLITE_SIDE_FILES}
        # the archived node.json names the database relative to the folder (an absolute path would make the
        # restored folder read the original's database); one outside the folder becomes its own node.sqlite3
        inside = db_file.is_relative_to(config.directory)
        db_name = db_file.relative_to(config.directory).as_posix() if inside else DATABASE_FILE
        settings = json.loads((config.directory / CONFIG_FILE).read_text(encoding="utf-8"))
        settings.pop("database_url", None)
        if db_name != DATABASE_FILE:
            settings["database_url"] = SQLITE_PREFIX + db_name
        node_json = (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode("utf-8")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bigre-backup-", dir=archive.parent) as scratch:
        copy = Path(scratch) / "node.sqlite3"
        if db_file is not None:
            report.heads = _online_copy(db_file, copy)
            report.database_bytes = copy.stat().st_size
        fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the private keys
        try:
            with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as tar:
                manifest = {
                    "format": FORMAT,
                    "node": config.name,
                    "created": int(time.time() * 1000),
                    "database": report.database,
                    "database_file": db_name,
                    "heads": report.heads,
                }
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
                for path in sorted(config.directory.rglob("*")):
                    if path in skip or not (path.is_file() or path.is_dir()) or path.is_symlink():
                        continue
                    name = path.relative_to(config.directory).as_posix()
                    if name == CONFIG_FILE and node_json is not None:
                        _add_bytes(tar, name, node_json)
                    else:
                        tar.add(path, arcname=name, recursive=False)
                    if path.is_file():
                        report.files.append(name)
                if db_name is not None:
                    tar.add(copy, arcname=db_name)
                    report.files.append(db_name)
        except BaseException:
            with contextlib.suppress(OSError):
                archive.unlink()
            raise
    return report


def _online_copy(source: Path, target: Path) -> dict[str, int]:
    """Copy a live SQLite database with the online backup API, check the copy, make it one self-contained file;
    the heads it holds."""
    if not source.exists():
        raise BackupError(f"the database {source} does not exist")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step: a consistent snapshot, while the node goes on writing (WAL)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise BackupError(f"the copy of {source} does not check: {check}")
        return {str(o): int(s) for o, s in dst.execute("SELECT origin, seq FROM log_heads WHERE seq > 0")}
    except sqlite3.Error as exc:
        raise BackupError(f"could not copy {source}: {exc}") from exc
    finally:
        dst.close()
        src.close()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of a backup archive; a clear error if ``archive`` is not one."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            value = json.loads(member.read().decode("utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{archive} does not exist") from exc
    except (tarfile.TarError, KeyError, ValueError, OSError) as exc:
        raise BackupError(f"{archive} is not a Bigre backup ({exc})") from exc
    if not isinstance(value, dict) or value.get("format") != FORMAT or not isinstance(value.get("node"), str):
        raise BackupError(f"{archive} is not a Bigre backup of a format this release reads")
    return value


def restore_node(archive: Path, directory: Path, *, replace: bool = False) -> RestoreReport:
    """Unpack ``archive`` into ``directory``. An existing folder is moved aside only with ``replace`` (the node
    must be stopped: a running node would keep writing to the folder moved aside)."""
    manifest = read_manifest(archive)
    directory = directory.resolve()
    moved: Path | None = None
    if directory.exists() and any(directory.iterdir()) and not replace:
        raise BackupError(
            f"{directory} is not empty: stop the node and add --replace (the folder is moved aside, not deleted)"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.restoring-", dir=directory.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(staging, filter="data")  # no absolute path, no link leaving the folder
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{archive} cannot be unpacked safely: {exc}") from exc
        (staging / MANIFEST).unlink()
        # the restored node may lack entries it had published: at its start it takes them back from its peers
        (staging / RUNNING_MARKER).touch(mode=0o600)
        _check_restored(staging, manifest)
        if directory.exists():
            if any(directory.iterdir()):
                moved = directory.with_name(f"{directory.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
                directory.rename(moved)
            else:
                directory.rmdir()
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    directory.chmod(0o700)
    config = load_config(directory)
    report = RestoreReport(
        directory, config.name, str(manifest.get("database")), int(manifest.get("created", 0)), moved_aside=moved
    )
    db_file = sqlite_path(config.database)
    if db_file is not None and db_file.exists():
        report.heads = _heads(db_file)
    return report


def _check_restored(staging: Path, manifest: dict[str, Any]) -> None:
    try:
        config = load_config(staging)
    except ConfigError as exc:
        raise BackupError(f"the archive's node folder is unusable: {exc.message}") from exc
    if config.name != manifest["node"]:
        raise BackupError(f"the archive says node {manifest['node']} but its node.json says {config.name}")
    db_file = sqlite_path(config.database)
    if manifest.get("database") == "sqlite":
        if db_file is None or not db_file.is_relative_to(staging) or not db_file.exists():
            raise BackupError("the archive holds no database where its node.json expects it")
        conn = sqlite3.connect(db_file)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
        if check is None or check[0] != "ok":
            raise BackupError(f"the archive's database does not check: {check}")


def _heads(db_file: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        return {str(o): int(s) for o, s in conn.execute("SELECT origin, seq FROM log_heads WHERE seq > 0")}
    finally:
        conn.close()
