"""``bigre backup`` / ``bigre restore`` and a node folder that moves (issue 12, items 9 and 10)."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import stat
import tarfile
from pathlib import Path

import pytest

from node.cli import main
from node.config import CONFIG_FILE, SQLITE_PREFIX, create_node_dir, load_config
from node.errors import ConfigError

URL = "http://127.0.0.1:9"


def _init(directory: Path, name: str = "smart") -> None:
    assert main(["init", str(directory), "--name", name, "--url", URL]) == 0


def _accounts(directory: Path) -> list[str]:
    conn = sqlite3.connect(directory / "node.sqlite3")
    try:
        return sorted(str(r[0]) for r in conn.execute("SELECT email FROM accounts"))
    finally:
        conn.close()


def _add(directory: Path, email: str) -> None:
    assert main(["users", "add", str(directory), "--email", email, "--role", "member"]) == 0


def test_backup_then_restore_elsewhere_reads_its_own_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = tmp_path / "srv" / "smart"
    _init(original)
    _add(original, "ana@smart.example")
    archive = tmp_path / "backups" / "smart.tar.gz"
    assert main(["backup", str(original), str(archive)]) == 0
    out = capsys.readouterr().out
    assert "backed up node smart" in out and "SQLite" in out
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds the private key
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    kid = load_config(original).key_id
    assert {"bigre-backup.json", CONFIG_FILE, "node.sqlite3", f"keys/{kid}.pem"} <= names
    assert main(["backup", str(original), str(archive)]) == 1  # never overwrites
    assert "already exists" in capsys.readouterr().err
    _add(original, "after-the-backup@smart.example")

    moved = tmp_path / "other-server" / "bigre" / "smart"
    assert main(["restore", str(archive), str(moved)]) == 0
    assert "restored node smart" in capsys.readouterr().out
    config = load_config(moved)
    assert config.database == SQLITE_PREFIX + str(moved / "node.sqlite3")
    assert _accounts(moved) == ["ana@smart.example"]
    assert stat.S_IMODE((moved / "keys" / f"{kid}.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(moved.stat().st_mode) == 0o700
    assert (moved / "running").exists()  # at its start the node takes back from its peers what it lacks
    _add(moved, "only-in-the-copy@smart.example")  # the restored folder writes its own database
    assert "only-in-the-copy@smart.example" not in _accounts(original)
    assert "only-in-the-copy@smart.example" in _accounts(moved)


def test_restore_never_deletes_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = tmp_path / "smart"
    _init(node)
    archive = tmp_path / "smart.tar.gz"
    assert main(["backup", str(node), str(archive)]) == 0
    _add(node, "late@smart.example")
    assert main(["restore", str(archive), str(node)]) == 1
    assert "--replace" in capsys.readouterr().err
    assert main(["restore", str(archive), str(node), "--replace"]) == 0
    assert "late@smart.example" not in _accounts(node)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("smart.before-restore-")]
    assert len(aside) == 1 and "late@smart.example" in _accounts(aside[0])
    assert main(["restore", str(archive), "--check"]) == 0
    assert "a backup of node smart (sqlite)" in capsys.readouterr().out


def test_restore_refuses_what_is_not_a_backup_or_leaves_the_folder(tmp_path: Path) -> None:
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    assert main(["restore", str(tmp_path / "junk.tar.gz"), str(tmp_path / "a")]) == 1
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        for name, data in (("bigre-backup.json", json.dumps({"format": 1, "node": "x"}).encode()), ("../out", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert main(["restore", str(evil), str(tmp_path / "b")]) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if ".restoring-" in p.name]  # nothing half-written left


def test_a_copied_folder_moved_elsewhere_opens_its_own_copy(tmp_path: Path) -> None:
    original = tmp_path / "srv" / "smart"
    _init(original)
    _add(original, "ana@smart.example")
    copy = tmp_path / "elsewhere" / "smart"
    shutil.copytree(original, copy)
    _add(copy, "copy@smart.example")
    assert "copy@smart.example" not in _accounts(original)
    assert load_config(copy).database == SQLITE_PREFIX + str(copy / "node.sqlite3")
    # a node.json of an older release, with the absolute path of the original's database
    settings = json.loads((copy / CONFIG_FILE).read_text())
    settings["database_url"] = SQLITE_PREFIX + str(original / "node.sqlite3")
    (copy / CONFIG_FILE).write_text(json.dumps(settings))
    with pytest.raises(ConfigError, match="another folder's database"):
        load_config(copy)
    shutil.rmtree(original)
    with pytest.raises(ConfigError, match="does not exist here"):
        load_config(copy)  # on a new server: never a new empty database with the old key
    # the old release's absolute path to the folder's OWN database: read as the default, and a backup of it
    # restored elsewhere reads its own copy
    settings["database_url"] = SQLITE_PREFIX + str(copy / "node.sqlite3")
    (copy / CONFIG_FILE).write_text(json.dumps(settings))
    assert load_config(copy).database == SQLITE_PREFIX + str(copy / "node.sqlite3")
    archive = tmp_path / "copy.tar.gz"
    assert main(["backup", str(copy), str(archive)]) == 0
    restored = tmp_path / "third" / "smart"
    assert main(["restore", str(archive), str(restored)]) == 0
    assert "database_url" not in json.loads((restored / CONFIG_FILE).read_text())
    _add(restored, "third@smart.example")
    assert _accounts(restored) == ["ana@smart.example", "copy@smart.example", "third@smart.example"]
    assert "third@smart.example" not in _accounts(copy)


def test_with_postgresql_the_archive_holds_the_folder_and_says_pg_dump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql+asyncpg://bigre:secret@127.0.0.1/bigre"
    create_node_dir(tmp_path / "pg", name="oxalis", url=URL, database_url=url)
    archive = tmp_path / "pg.tar.gz"
    assert main(["backup", str(tmp_path / "pg"), str(archive)]) == 0
    out = capsys.readouterr().out
    assert "is NOT in the archive" in out and "pg_dump" in out and "secret" not in out
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("bigre-backup.json").read())  # type: ignore[union-attr]
    assert manifest["database"] == "postgresql" and not any(n.endswith(".sqlite3") for n in names)
    assert main(["restore", str(archive), str(tmp_path / "restored")]) == 0
    assert "pg_restore" in capsys.readouterr().out
    assert load_config(tmp_path / "restored").database == url
