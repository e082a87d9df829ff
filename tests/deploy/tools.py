"""What the deploy/ tests share: the shipped files, the system tools they run, and small waits.

The tools (nginx, systemd-analyze, Debian's python3-seccomp) are system packages, not Python dependencies: a
test that needs a missing one is skipped on a developer's machine and fails under ``CI`` (``bash .ci/run``
installs them from Debian's packages).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
NGINX_SITE = DEPLOY / "nginx.conf"
UNIT = DEPLOY / "bigre@.service"
SERVER_NAME = "bigre.coopaname.coop"  # the placeholder host name the shipped files use
T = TypeVar("T")


def require_tool(name: str, package: str) -> str:
    """The path of a system tool; skip without it, or fail under CI (where .ci/run installs ``package``)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    message = f"{name} is missing (Debian package {package}; bash .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: required in CI")
    pytest.skip(message)


def missing_in_ci(message: str) -> None:
    """Skip a test whose precondition is missing, except under CI where that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{message}: required in CI")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(check: Callable[[], T | None], within: float = 30.0, what: str = "condition") -> T:
    """Poll ``check`` every 0.05 s until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + within
    last: object = None
    while True:
        try:
            value = check()
        except (AssertionError, OSError) as exc:
            last = exc
        else:
            last = value
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {within:.0f} s (last: {str(last)[:1000]})")
        time.sleep(0.05)


def self_signed_certificate(directory: Path, host: str = SERVER_NAME) -> tuple[Path, Path]:
    """A throwaway certificate for ``host`` (and 127.0.0.1): (certificate, key) PEM files in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def substitute(text: str, old: str, new: str, count: int) -> str:
    """``text`` with ``old`` replaced by ``new``, which must occur exactly ``count`` times: a test that rewrites
    the shipped file for its own layout fails loudly when the file changes shape, instead of testing less."""
    found = text.count(old)
    assert found == count, f"expected {count} occurrence(s) of {old!r} in the shipped file, found {found}"
    return text.replace(old, new)


def site_for_test(directory: Path, *, cert: Path, key: Path) -> str:
    """The shipped nginx site with only its certificate paths pointed at a throwaway certificate."""
    text = NGINX_SITE.read_text()
    text = substitute(text, f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem", str(cert), 1)
    return substitute(text, f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem", str(key), 1)


def nginx_main_config(directory: Path, site: Path, *, foreground: bool = False) -> Path:
    """A main nginx.conf that includes ``site`` in its http block, with every path nginx writes inside
    ``directory`` (pid, logs, temporary files), so nginx runs without touching the system's folders."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    lines = [
        "daemon off;" if foreground else "",
        "master_process off;" if foreground else "",
        f"pid {directory}/nginx.pid;",
        f"error_log {directory}/error.log info;",
        "events { worker_connections 128; }",
        "http {",
        f"    {mime}",
        "    gzip on;  # as Debian's nginx.conf: the site must turn it off itself",
        f"    access_log {directory}/access.log;",
        *(f"    {kind}_temp_path {directory}/tmp/{sub};" for kind, sub in _TEMP_PATHS),
        f"    include {site};",
        "}",
    ]
    path = directory / "nginx.conf"
    path.write_text("\n".join(line for line in lines if line) + "\n")
    return path


_TEMP_PATHS = (
    ("client_body", "body"),
    ("proxy", "proxy"),
    ("fastcgi", "fastcgi"),
    ("uwsgi", "uwsgi"),
    ("scgi", "scgi"),
)

EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)")
