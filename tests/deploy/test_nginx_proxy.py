"""deploy/nginx.conf in front of a real node: nginx and ``bigre serve`` run as processes on loopback.

The shipped site is used as written except for what a test machine must change: its certificate (a throwaway
one for the same host name), its ports (free ones instead of 80, 443 and 8400; the IPv6 listens, which a test
machine may not have, are dropped) and the ACME webroot. The node is made with the CLI, as an operator would,
with ``"trusted_proxies": ["127.0.0.1"]`` as the install guide says. Clients connect from 127.0.0.2 (still
loopback), so the address the node believes is told apart from the proxy's.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from .tools import (
    SERVER_NAME,
    eventually,
    free_port,
    nginx_main_config,
    require_tool,
    self_signed_certificate,
    site_for_test,
    substitute,
)

CLIENT_ADDRESS = "127.0.0.2"
BIGRE = Path(sys.executable).parent / "bigre"
MiB = 1024 * 1024


@dataclass
class Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    alpn: str | None = None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def one(self, name: str) -> str:
        values = self.all(name)
        assert len(values) == 1, f"{name}: expected one header, got {values}"
        return values[0]


class _Https(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the node's host name for SNI and certificate checks, from ``CLIENT_ADDRESS``."""

    def __init__(self, port: int, tls: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1", port, timeout=60, source_address=(CLIENT_ADDRESS, 0), context=tls)
        self._tls = tls
        self.alpn: str | None = None

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        tls_sock = self._tls.wrap_socket(self.sock, server_hostname=SERVER_NAME)
        self.alpn = tls_sock.selected_alpn_protocol()
        self.sock = tls_sock


@dataclass
class Proxied:
    """nginx (http_port, https_port) in front of a node (node_port) whose folder is ``node_dir``."""

    http_port: int
    https_port: int
    node_port: int
    node_dir: Path
    node_log: Path
    cafile: Path
    cookies: dict[str, str] = field(default_factory=dict)

    def https(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
        tls = ssl.create_default_context(cafile=str(self.cafile))
        tls.set_alpn_protocols(["h2", "http/1.1"])  # nginx offers h2 by ALPN; http.client speaks HTTP/1.1 then
        tls_11 = ssl.create_default_context(cafile=str(self.cafile))
        tls_11.set_alpn_protocols(["http/1.1"])
        # first connection: which protocol does the server pick when h2 is offered? (closed at once)
        probe = _Https(self.https_port, tls)
        probe.connect()
        alpn = probe.alpn
        probe.close()
        conn = _Https(self.https_port, tls_11)
        sent = {"Host": SERVER_NAME, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            answer = Answer(response.status, response.read(), response.getheaders(), alpn)
        finally:
            conn.close()
        for value in answer.all("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            self.cookies.update({k: m.value for k, m in jar.items()})
        return answer

    def plain(self, method: str, path: str) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30, source_address=(CLIENT_ADDRESS, 0))
        try:
            conn.request(method, path, headers={"Host": SERVER_NAME})
            response = conn.getresponse()
            return Answer(response.status, response.read(), response.getheaders())
        finally:
            conn.close()

    def direct(self, path: str) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", self.node_port, timeout=30)
        try:
            conn.request("GET", path)
            return conn.getresponse().read()
        finally:
            conn.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    """One node behind one nginx for the whole module (a node takes seconds to make and start)."""
    tmp_path = tmp_path_factory.mktemp("proxied")
    nginx = require_tool("nginx", "nginx")
    if not _loopback_alias_works():
        pytest.skip(f"cannot bind a client socket to {CLIENT_ADDRESS}")
    node_dir, node_port = tmp_path / "coopaname", free_port()
    subprocess.run(
        [
            str(BIGRE),
            "init",
            str(node_dir),
            "--name",
            "coopaname",
            "--url",
            f"https://{SERVER_NAME}",
            "--display-name",
            "Coopaname",
            "--port",
            str(node_port),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config_path = node_dir / "node.json"
    config = json.loads(config_path.read_text())
    config["trusted_proxies"] = ["127.0.0.1"]
    config_path.write_text(json.dumps(config, indent=2))
    subprocess.run(
        [
            str(BIGRE),
            "users",
            "add",
            str(node_dir),
            "--email",
            "operateur@coopaname.coop",
            "--role",
            "operator",
            "--password-stdin",
        ],
        input=b"a long enough password\n",
        check=True,
        capture_output=True,
        timeout=120,
    )

    cert, key = self_signed_certificate(tmp_path)
    http_port, https_port = free_port(), free_port()
    webroot = tmp_path / "acme"
    (webroot / ".well-known" / "acme-challenge").mkdir(parents=True)
    (webroot / ".well-known" / "acme-challenge" / "token-1").write_text("token-1.thumbprint")
    site = site_for_test(tmp_path, cert=cert, key=key)
    site = substitute(site, "    listen 80;\n", f"    listen 127.0.0.1:{http_port};\n", 1)
    site = substitute(site, "    listen [::]:80;\n", "", 1)
    site = substitute(site, "    listen 443 ssl http2;\n", f"    listen 127.0.0.1:{https_port} ssl http2;\n", 1)
    site = substitute(site, "    listen [::]:443 ssl http2;\n", "", 1)
    site = substitute(site, "proxy_pass http://127.0.0.1:8400;", f"proxy_pass http://127.0.0.1:{node_port};", 2)
    site = substitute(site, "root /var/www/letsencrypt;", f"root {webroot};", 1)
    site_path = tmp_path / "site.conf"
    site_path.write_text(site)
    main = nginx_main_config(tmp_path, site_path, foreground=True)

    node_log = tmp_path / "node.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with open(node_log, "wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(BIGRE), "serve", str(node_dir)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    start_new_session=True,
                )
            )
        processes.append(
            subprocess.Popen(
                [nginx, "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

        def up() -> bool:
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args!r} exited: {node_log.read_text()[-3000:]}")
            return all(_listening(p) for p in (node_port, http_port, https_port))

        eventually(up, within=90, what="node and nginx listening")
        yield Proxied(http_port, https_port, node_port, node_dir, node_log, cert)
    finally:
        for process in processes:
            _stop(process)
        print(f"===== node log =====\n{node_log.read_text()[-4000:] if node_log.exists() else ''}")
        error_log = tmp_path / "error.log"
        print(f"===== nginx error log =====\n{error_log.read_text()[-4000:] if error_log.exists() else ''}")


@pytest.fixture
def proxied(running: Proxied) -> Proxied:
    running.cookies.clear()
    return running


def _loopback_alias_works() -> bool:
    try:
        with socket.socket() as s:
            s.bind((CLIENT_ADDRESS, 0))
    except OSError:
        return False
    return True


def test_http_redirects_to_https_except_acme_challenges(proxied: Proxied) -> None:
    answer = proxied.plain("GET", "/federation/v1/heads?x=1")
    assert answer.status == 301
    assert answer.one("Location") == f"https://{SERVER_NAME}/federation/v1/heads?x=1"
    challenge = proxied.plain("GET", "/.well-known/acme-challenge/token-1")
    assert (challenge.status, challenge.body) == (200, b"token-1.thumbprint")


def test_node_document_and_static_files_pass_unchanged_over_tls_and_http2(proxied: Proxied) -> None:
    answer = proxied.https("GET", "/.well-known/bigre/node")
    assert answer.status == 200
    assert answer.body == proxied.direct("/.well-known/bigre/node")  # signed bytes, passed as they are
    assert answer.alpn == "h2"
    css = proxied.https("GET", "/static/bigre.css", headers={"Accept-Encoding": "gzip"})
    assert css.status == 200 and css.one("Content-Type").startswith("text/css")
    assert css.body == proxied.direct("/static/bigre.css")


def test_every_answer_carries_hsts_and_no_framing_once(proxied: Proxied) -> None:
    page = proxied.https("GET", "/login", headers={"Accept-Encoding": "gzip"})
    missing = proxied.https("GET", "/no/such/page")
    api = proxied.https("GET", "/api/v1/health")
    assert (page.status, missing.status, api.status) == (200, 404, 200)
    for answer in (page, missing, api):
        assert answer.one("Strict-Transport-Security") == "max-age=31536000"
        assert answer.one("X-Frame-Options") == "DENY"
        assert answer.one("X-Content-Type-Options") == "nosniff"
        assert "frame-ancestors 'none'" in answer.all("Content-Security-Policy")
        assert answer.all("Server") == ["nginx"]  # no version
    # the node's own page policy still reaches the browser, next to the proxy's
    assert any("default-src 'self'" in v for v in page.all("Content-Security-Policy"))
    assert page.all("Content-Encoding") == []  # gzip off (BREACH), although Debian's nginx.conf turns it on


def test_the_node_sees_the_client_address_and_not_a_forged_one(proxied: Proxied) -> None:
    """nginx replaces X-Forwarded-For and the node believes it from 127.0.0.1 (trusted_proxies)."""
    answer = proxied.https(
        "POST", "/federation/v1/join", body=b"\xc1 not msgpack", headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert answer.status == 400
    line = eventually(
        lambda: next((x for x in proxied.node_log.read_text().splitlines() if "/federation/v1/join" in x), None),
        within=10,
        what="the node's refusal logged",
    )
    assert f"({CLIENT_ADDRESS})" in line, line
    assert "203.0.113.9" not in line and "(127.0.0.1)" not in line, line


def test_body_limits_pass_node_to_node_pushes_of_8_mib(proxied: Proxied) -> None:
    """A body over the node's 8 MiB federation limit reaches the node, which refuses it with its own JSON error;
    only past 9 MiB does nginx answer 413 itself."""
    over_node = proxied.https("POST", "/federation/v1/push", body=b"\0" * (8 * MiB + 1024))
    assert over_node.status == 413
    assert json.loads(over_node.body)["error"]["code"] == "too_large"
    over_proxy = proxied.https("POST", "/federation/v1/push", body=b"\0" * (9 * MiB + 1))
    assert over_proxy.status == 413
    assert over_proxy.one("Content-Type").startswith("text/html")  # nginx's page: the node never saw it


def test_an_operator_signs_in_and_imports_members_through_the_proxy(proxied: Proxied) -> None:
    """Secure cookies, CSRF and a streamed multipart upload larger than nginx's 1 MiB default."""
    assert proxied.https("GET", "/login").status == 200
    csrf = next(v for k, v in proxied.cookies.items() if "csrf" in k.lower())
    form = urlencode({"email": "operateur@coopaname.coop", "password": "a long enough password", "csrf": csrf})
    signed_in = proxied.https(
        "POST", "/login", body=form.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert signed_in.status == 303, signed_in.body[:500]
    assert any("secure" in v.lower() for v in signed_in.all("Set-Cookie"))

    rows = ["email,display_name,skills"] + [
        f"membre{i}@coopaname.coop,Membre {i},{'menuiserie;' * 8}escaliers" for i in range(12_000)
    ]
    csv = ("\n".join(rows) + "\n").encode()
    assert len(csv) > 1 * MiB
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="members.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = proxied.https(
        "POST",
        f"/operator/import?csrf={csrf}",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status == 200, answer.body[:2000]
    assert b"membre11999@coopaname.coop" in answer.body  # its invitation link, shown once
