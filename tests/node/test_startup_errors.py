"""A newcomer's start-up mistakes each give one line that names the fix, never a traceback (issue 17)."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from node.config import CONFIG_FILE, create_node_dir

pytestmark = pytest.mark.slow

BIGRE = [sys.executable, "-m", "node.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node(tmp_path: Path, **settings: object) -> Path:
    directory = tmp_path / "n"
    create_node_dir(directory, name="test", url="http://127.0.0.1:1")
    raw = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    raw.update(settings)
    (directory / CONFIG_FILE).write_text(json.dumps(raw), encoding="utf-8")
    return directory


def _serve(directory: Path, *, env: dict[str, str] | None = None, port: int | None = None) -> list[str]:
    """Run ``bigre serve``; it must fail at once with exit code 1. The lines of its error output."""
    proc = subprocess.run(
        [*BIGRE, "serve", str(directory), "--port", str(port or _free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, **(env or {})},
    )
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if " INFO " not in line and " WARNING " not in line]
    assert len(errors) == 1 and errors[0].startswith("bigre: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return errors


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:1/test", "cannot reach PostgreSQL at 127.0.0.1:1"),
        ("postgresql+asyncpg://nobody_here@127.0.0.1:5432/test", "refused user 'nobody_here'"),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_database", "no database 'no_such_database'"),
        ("postgresql+asyncpg://postgres@no-such-host.invalid:5432/test", "cannot find the PostgreSQL host"),
        ("sqlite:///node.sqlite3", "'sqlite' is not a driver the node can use"),
    ],
)
def test_database_mistakes(tmp_path: Path, database_url: str, expected: str) -> None:
    [line] = _serve(_node(tmp_path, database_url=database_url))
    assert expected in line


def test_a_database_newer_than_the_code(tmp_path: Path) -> None:
    directory = _node(tmp_path)
    subprocess.run([*BIGRE, "migrate", str(directory)], check=True, capture_output=True, timeout=60)
    with sqlite3.connect(directory / "node.sqlite3") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    [line] = _serve(directory)
    assert "migrated by a newer release" in line and "9999_from_the_future" in line


def test_listening_mistakes(tmp_path: Path) -> None:
    [line] = _serve(_node(tmp_path / "a", host="no-such-host.invalid"))
    assert "cannot listen on 'no-such-host.invalid'" in line and "host in node.json" in line
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        [line] = _serve(_node(tmp_path / "b"), port=port)
    assert f"127.0.0.1:{port}: address already in use" in line


def test_settings_mistakes(tmp_path: Path) -> None:
    directory = _node(tmp_path)
    [line] = _serve(directory, env={"BIGRE_ANTI_ENTROPY_SECONDS": "fast"})
    assert "BIGRE_ANTI_ENTROPY_SECONDS" in line
    raw = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    (directory / CONFIG_FILE).write_text(json.dumps({**raw, "porte": 8400}), encoding="utf-8")
    [line] = _serve(directory)
    assert "unknown settings porte" in line
