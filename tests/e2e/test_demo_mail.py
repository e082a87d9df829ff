"""``bigre demo`` runs a local mail catcher: its banner names the folder, and a demo login's "forgot my password"
mail lands there as a .eml file, with a link that sets a new password."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def three_free_ports() -> int:
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base > 65_000:
            continue
        try:
            sockets = [socket.socket() for _ in range(3)]
            for i, sock in enumerate(sockets):
                sock.bind(("127.0.0.1", base + i))
            for sock in sockets:
                sock.close()
            return base
        except OSError:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no three consecutive free ports")


def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {within} s")


def test_demo_forgot_password_mail_lands_in_the_catcher_folder(tmp_path: Path) -> None:
    base = three_free_ports()
    data = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "demo", "--data", str(data), "--base-port", str(base), "--members", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BIGRE_ANTI_ENTROPY_SECONDS": "2", "BIGRE_MAIL_SECONDS": "0.3"},
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode("utf-8", "replace") for line in iter(demo.stdout.readline, b"")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        banner = wait_for(lambda: next((line for line in lines if "mails the coops send" in line), None), 300,
                          "the demo's banner")  # fmt: skip
        folder = Path(banner.rsplit(": ", 1)[1].strip())
        assert folder == data / "mail"
        url = f"http://127.0.0.1:{base}"
        status, _ = post(url + "/api/v1/auth/password-reset", {"email": "membre@coopaname.example"})
        assert status == 202

        def reset_mail() -> email.message.EmailMessage | None:
            for path in folder.glob("*.eml"):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if message["To"] == "membre@coopaname.example":
                    return message
            return None

        mail = wait_for(reset_mail, 60, "the reset mail in the demo's mail folder")
        body = mail.get_body(("plain",)).get_content()
        token = re.search(r"/password/reset/(\S+)", body).group(1)  # type: ignore[union-attr]
        status, _ = post(url + "/api/v1/auth/password-reset/confirm", {"token": token, "password": "nouveau-2027!"})
        assert status == 200
        status, _ = post(url + "/api/v1/auth/login", {"email": "membre@coopaname.example", "password": "nouveau-2027!"})
        assert status == 200
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
