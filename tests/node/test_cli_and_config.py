"""The ``bigre`` command (in-process and as a real process) and the node folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from node.cli import build_parser, main
from node.compose import Node
from node.config import CONFIG_FILE, NodeConfig, create_node_dir, load_config
from node.errors import ConfigError
from node.keyfile import read_key
from protocol import SigningKey

BIGRE = [sys.executable, "-m", "node.cli"]


def test_node_folder_and_key_file(tmp_path: Path) -> None:
    config = create_node_dir(tmp_path / "n", name="oxalis", url="https://oxalis.example/")
    key_file = config.key_dir / f"{config.key_id}.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert read_key(key_file).kid == config.key_id
    assert load_config(tmp_path / "n") == config
    assert config.url == "https://oxalis.example"
    with pytest.raises(ConfigError):
        create_node_dir(tmp_path / "n", name="oxalis", url="https://oxalis.example")  # never overwrites
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match="accessible"):
        read_key(key_file)
    for name in ("Coop", "-x", "a" * 40, "a_b"):
        with pytest.raises(ConfigError):
            create_node_dir(tmp_path / name, name=name, url="https://x.example")
    with pytest.raises(ConfigError):
        create_node_dir(tmp_path / "u", name="ok", url="ftp://x")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CONFIG_FILE).write_text('{"name": "x", "url": "https://x.example", "key_id": "k", "z": 1}')
    with pytest.raises(ConfigError, match="unknown settings z"):
        load_config(tmp_path / "bad")
    with pytest.raises(ConfigError, match="not a node folder"):
        load_config(tmp_path / "nothing")
    assert "SigningKey(kid=" in repr(SigningKey.generate())  # the secret never shows


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["--help"],
        ["init", "--help"],
        ["serve", "--help"],
        ["status", "--help"],
        ["users", "--help"],
        ["users", "add", "--help"],
        ["members", "--help"],
        ["members", "import", "--help"],
        ["members", "export", "--help"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert "usage: bigre" in capsys.readouterr().out


def test_other_packages_can_register_subcommands() -> None:
    def register(sub: object) -> None:
        parser = sub.add_parser("extra", help="an extra command")  # type: ignore[attr-defined]
        parser.set_defaults(func=lambda args: 0)

    from node.cli import REGISTRARS

    parser = build_parser([*REGISTRARS, register])
    assert parser.parse_args(["extra"]).func(None) == 0


@pytest.fixture
def node_dir(tmp_path: Path, node_config: NodeConfig) -> str:
    return str(node_config.directory)


def test_cli_commands_in_process(
    tmp_path: Path, node_dir: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["status", node_dir]) == 0
    out = capsys.readouterr().out
    assert "coopaname" in out and "heads     (empty)" in out
    assert main(["users", "add", node_dir, "--email", "op@example.org", "--role", "operator"]) == 0
    assert "/invitation/" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("a long enough password\n"))
    assert main(["users", "add", node_dir, "--email", "adv@example.org", "--role", "advisor", "--password-stdin"]) == 0
    assert "invitation" not in capsys.readouterr().out
    assert main(["users", "add", node_dir, "--email", "op@example.org", "--role", "member"]) == 1
    assert "already exists" in capsys.readouterr().err
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(
        "email,display_name,trades,town\nm1@example.org,M1,H2206,Montreuil\nbad,M2,,\nm3@example.org,M3,Q9999,\n",
        encoding="utf-8",
    )
    assert main(["members", "import", node_dir, str(csv_file), "--dry-run"]) == 3
    captured = capsys.readouterr()
    assert "dry run: 1 of 3 rows" in captured.out
    assert "line 3: bad: email" in captured.err and "line 4: m3@example.org: trades" in captured.err
    invitations = tmp_path / "inv.csv"
    assert main(["members", "import", node_dir, str(csv_file), "--invitations", str(invitations)]) == 3
    assert "imported 1 of 3 rows" in capsys.readouterr().out
    assert stat.S_IMODE(invitations.stat().st_mode) == 0o600
    assert invitations.read_text().splitlines()[1].startswith("m1@example.org,http://127.0.0.1:8400/invitation/")
    out_file = tmp_path / "export.csv"
    assert main(["members", "export", node_dir, "--output", str(out_file)]) == 0
    assert len(out_file.read_text().splitlines()) == 4
    assert main(["members", "export", node_dir]) == 0
    assert "m1@example.org,M1,H2206" in capsys.readouterr().out
    (tmp_path / "garbage.csv").write_bytes(b"\x00\x01\x02")
    assert main(["members", "import", node_dir, str(tmp_path / "garbage.csv")]) == 1
    assert "bigre: error:" in capsys.readouterr().err
    assert main(["status", node_dir]) == 0
    assert "accounts  3" in capsys.readouterr().out


def test_cli_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "smart"
    assert main(["init", str(target), "--name", "smart", "--url", "http://127.0.0.1:9", "--display-name", "SMart"]) == 0
    assert "created node smart" in capsys.readouterr().out
    assert (target / "node.sqlite3").exists()
    assert main(["init", str(target), "--name", "smart", "--url", "http://127.0.0.1:9"]) == 1
    assert "already holds a node" in capsys.readouterr().err


def test_cli_init_refuses_a_database_url_the_node_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL the node would refuse at every start is refused by init, before any folder is written."""
    target = tmp_path / "alpha"
    url = "postgresql://postgres@127.0.0.1/alpha"
    assert main(["init", str(target), "--name", "alpha", "--url", "http://127.0.0.1:9", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "--database-url: 'postgresql' is not a driver" in err and "postgresql+asyncpg://" in err
    assert not target.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_process_init_serve_health(tmp_path: Path) -> None:
    port = _free_port()
    target = tmp_path / "oxalis"
    subprocess.run(
        [*BIGRE, "init", str(target), "--name", "oxalis", "--url", f"http://127.0.0.1:{port}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    log_file = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*BIGRE, "serve", str(target), "--port", str(port)], stdout=log_file, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as resp:
                    health = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.05)  # polling interval while waiting for the port, bounded by the deadline
        assert health is not None, (tmp_path / "serve.log").read_text()
        assert health["name"] == "oxalis" and health["heads"] == {"oxalis": 1}  # its node document
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0  # graceful shutdown on SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        log_file.close()


def test_version_and_explicit_quiet_migrations(tmp_path: Path) -> None:
    version = subprocess.run([*BIGRE, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("bigre ") and version.split()[1][0].isdigit()
    create_node_dir(tmp_path / "n", name="oxalis", url="https://oxalis.example")
    first = subprocess.run([*BIGRE, "migrate", str(tmp_path / "n")], capture_output=True, text=True, check=True)
    applied = [line for line in first.stdout.splitlines() if line.startswith("applied ")]
    assert applied and applied[0].startswith("applied 0001")  # each migration named once, oldest first
    again = subprocess.run([*BIGRE, "migrate", str(tmp_path / "n")], capture_output=True, text=True, check=True)
    assert "applied" not in again.stdout and "up to date" in again.stdout
    status = subprocess.run([*BIGRE, "status", str(tmp_path / "n")], capture_output=True, text=True, check=True)
    assert "alembic" not in status.stderr and "Running upgrade" not in status.stderr  # quiet by default


async def test_peer_invitation_tokens_never_read_as_an_option(services: Node) -> None:
    """The token is pasted after `bigre peers join DIR URL`: one starting with "-" was taken for an option."""
    tokens = [await services.federation_store.create_invitation(60_000) for _ in range(300)]
    assert not [t for t in tokens if t.startswith("-")]
