"""The node works inside the sandbox deploy/bigre@.service builds: the hardening does not break it at run time.

``systemd-analyze`` only reads the unit; whether the node still starts, migrates, signs, serves pages and talks
to its peers under MemoryDenyWriteExecute, the system call allow-list, the address families and a read-only
system is a run-time question. systemd is not PID 1 on the test machines, so :mod:`tests.deploy.unit_sandbox`
rebuilds those settings from the unit's own lines (seccomp filters, a private mount namespace, an unprivileged
user) and runs the unit's ExecStart in them. A peer node runs outside, and the two federate through
``localhost``, so the sandboxed node resolves a name, connects out and is connected to.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .tools import REPO, UNIT, eventually, free_port, missing_in_ci, require_tool

SANDBOX = Path(__file__).with_name("unit_sandbox.py")
BIGRE = Path(sys.executable).parent / "bigre"
NOBODY = 65534
PASSWORD = "a long enough password"


def _seccomp_available() -> bool:
    probe = subprocess.run(["/usr/bin/python3", "-c", "import seccomp"], capture_output=True)
    return probe.returncode == 0


def _call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(raw) if kind.startswith("application/json") else raw
    finally:
        conn.close()


def _heads(port: int) -> dict[str, Any]:
    status, body = _call(port, "GET", "/api/v1/health")
    assert status == 200, body
    heads = body.get("heads", {})
    assert isinstance(heads, dict)
    return heads


def _bigre(*args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run([str(BIGRE), *args], input=stdin, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


PG_SOCKET_DIR = Path("/run/postgresql")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the node's SQLite file; or a fresh PostgreSQL database reached over the server's Unix socket, as
    the install guide sets it up (the socket in /run stays usable under ProtectSystem=strict)."""
    if request.param == "sqlite":
        yield None
        return
    if not (PG_SOCKET_DIR / ".s.PGSQL.5432").exists():
        missing_in_ci(f"no PostgreSQL socket in {PG_SOCKET_DIR}")
    name = f"bigre_sandbox_{secrets.token_hex(4)}"
    admin = ["-h", str(PG_SOCKET_DIR), "-U", "postgres"]
    created = subprocess.run(["createdb", *admin, name], capture_output=True, text=True)
    if created.returncode != 0:
        missing_in_ci(f"cannot create a PostgreSQL database over {PG_SOCKET_DIR}: {created.stderr.strip()}")
    try:
        yield f"postgresql+asyncpg://postgres@/{name}?host={PG_SOCKET_DIR}"
    finally:
        subprocess.run(["dropdb", *admin, "--force", name], capture_output=True)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            _stop(process)


def test_the_node_serves_and_federates_inside_the_units_sandbox(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]], database: str | None
) -> None:
    require_tool("systemd-analyze", "systemd")
    require_tool("unshare", "util-linux")
    if os.geteuid() != 0:
        missing_in_ci("the sandbox needs root (mount namespace, then a switch to an unprivileged user)")
    if not _seccomp_available():
        missing_in_ci("Debian's python3-seccomp is missing (bash .ci/run installs it)")

    # the sandboxed node, folder named after the unit's instance, and its peer outside
    inside_port, peer_port = free_port(), free_port()
    node_dir, peer_dir = tmp_path / "nodes" / "coopaname", tmp_path / "peer" / "smart"
    node_dir.parent.mkdir()
    database_option = ["--database-url", database] if database else []
    _bigre("init", str(node_dir), "--name", "coopaname", "--url", f"http://localhost:{inside_port}", *database_option)
    _bigre("init", str(peer_dir), "--name", "smart", "--url", f"http://localhost:{peer_port}")
    for directory, port in ((node_dir, inside_port), (peer_dir, peer_port)):
        config = json.loads((directory / "node.json").read_text())
        config["port"] = port
        if directory == node_dir and database is None:
            # init wrote the SQLite file's absolute path; the sandbox shows the folder at /srv/bigre/coopaname,
            # where the default (node.sqlite3 in the folder) finds it, as for a node made there by the guide
            config["database_url"] = None
        (directory / "node.json").write_text(json.dumps(config, indent=2))
    _bigre(
        "users",
        "add",
        str(node_dir),
        "--email",
        "op@coopaname.coop",
        "--role",
        "operator",
        "--password-stdin",
        stdin=f"{PASSWORD}\n".encode(),
    )

    env = {**os.environ, "BIGRE_ANTI_ENTROPY_SECONDS": "1", "PYTHONUNBUFFERED": "1"}
    peer_log = open(tmp_path / "peer.log", "wb")  # noqa: SIM115 - closed at the end of the test
    processes.append(
        subprocess.Popen(
            [str(BIGRE), "serve", str(peer_dir)],
            stdout=peer_log,
            stderr=peer_log,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    )
    eventually(lambda: _call(peer_port, "GET", "/api/v1/health")[0] == 200, within=60, what="peer healthy")
    invitation = _bigre("peers", "invite", str(peer_dir))
    token = re.search(r"bigre peers join NODE_DIR \S+ (\S+)", invitation)
    assert token, invitation
    _bigre("peers", "join", str(node_dir), f"http://localhost:{peer_port}", token.group(1))

    # as the install guide leaves it: the folder belongs to the service user, mode 0700
    shutil.chown(node_dir, NOBODY, NOBODY)
    for path in node_dir.rglob("*"):
        shutil.chown(path, NOBODY, NOBODY)
    node_dir.chmod(0o700)

    exec_start = next(line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    command = exec_start.replace("%i", node_dir.name).split()
    node_log_path = tmp_path / "node.log"
    node_log = open(node_log_path, "wb")  # noqa: SIM115 - closed at the end of the test
    sandboxed = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "/usr/bin/python3",
            str(SANDBOX),
            str(UNIT),
            str(node_dir),
            sys.prefix,
            str(NOBODY),
            str(NOBODY),
            sys.base_prefix,
            str(REPO),
            "--",
            *command,
        ],
        stdout=node_log,
        stderr=node_log,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    processes.append(sandboxed)
    try:

        def healthy() -> bool:
            if sandboxed.poll() is not None:
                raise RuntimeError(f"the sandboxed node exited:\n{node_log_path.read_text()[-4000:]}")
            with contextlib.suppress(OSError):
                return _call(inside_port, "GET", "/api/v1/health")[0] == 200
            return False

        eventually(healthy, within=90, what="sandboxed node healthy")

        # it really runs confined: unprivileged, no new privileges, seccomp filters on
        status = Path(f"/proc/{sandboxed.pid}/status").read_text()
        assert re.search(rf"^Uid:\s+{NOBODY}\s", status, re.M), status
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
        assert re.search(r"^Seccomp:\s+2$", status, re.M), status

        # pages (templates), sign-in (scrypt), and both directions of federation (signed requests, resolver)
        assert _call(inside_port, "GET", "/login")[0] == 200
        status_code, login = _call(
            inside_port, "POST", "/api/v1/auth/login", {"email": "op@coopaname.coop", "password": PASSWORD}
        )
        assert status_code == 200 and login.get("token"), login
        eventually(lambda: "smart" in _heads(inside_port), within=60, what="the sandboxed node pulled its peer")
        eventually(lambda: "coopaname" in _heads(peer_port), within=60, what="the peer pulled the sandboxed node")

        # the node wrote into its own folder only, and as the service user
        assert all(p.stat().st_uid == NOBODY for p in node_dir.rglob("*")), "a file not owned by the service user"
        log_text = node_log_path.read_text()
        assert "Operation not permitted" not in log_text and "Traceback" not in log_text, log_text[-4000:]
    finally:
        _stop(sandboxed)
        node_log.close()
        peer_log.close()
        print(f"===== sandboxed node =====\n{node_log_path.read_text()[-4000:]}")
