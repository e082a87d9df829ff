"""deploy/nginx.conf is accepted by the nginx on this machine (Debian 12 ships 1.22), as installed.

Two layouts: a minimal main config of our own, and Debian's own /etc/nginx/nginx.conf with the site in place of
``sites-enabled/*`` (its http-level settings, ``gzip on`` and ``ssl_protocols`` among them, then apply, as they
will on an operator's machine). Only the certificate paths are changed, to a throwaway certificate, so that
``nginx -t`` can load them.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .tools import NGINX_SITE, nginx_main_config, require_tool, self_signed_certificate, site_for_test, substitute

DEBIAN_MAIN = Path("/etc/nginx/nginx.conf")


def nginx_t(nginx: str, main: Path, prefix: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``main``; with ``prefix``, every relative path is under it (an unprivileged layout)."""
    where = ["-p", str(prefix), "-e", str(prefix / "error.log")] if prefix else []
    return subprocess.run(
        [nginx, "-t", "-c", str(main), *where],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    cert, key = self_signed_certificate(tmp_path)
    path = tmp_path / "bigre-site.conf"
    path.write_text(site_for_test(tmp_path, cert=cert, key=key))
    return path


def test_nginx_t_accepts_the_site_in_a_minimal_config(tmp_path: Path, site: Path) -> None:
    nginx = require_tool("nginx", "nginx")
    result = nginx_t(nginx, nginx_main_config(tmp_path, site), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr


def test_nginx_t_accepts_the_site_in_debians_nginx_conf(tmp_path: Path, site: Path) -> None:
    """As an operator installs it: Debian's main config, our file where sites-enabled/* is included."""
    nginx = require_tool("nginx", "nginx")
    if not DEBIAN_MAIN.exists():
        pytest.skip(f"{DEBIAN_MAIN} is missing (not Debian's nginx package)")
    if os.geteuid() != 0:
        pytest.skip("Debian's nginx.conf opens /var/log/nginx: run as root (CI does)")
    text = substitute(DEBIAN_MAIN.read_text(), "include /etc/nginx/sites-enabled/*;", f"include {site};", 1)
    main = tmp_path / "debian-nginx.conf"
    main.write_text(text)
    result = nginx_t(nginx, main)  # Debian's prefix: its modules-enabled/*.conf load modules by relative path
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr, result.stderr


def test_nginx_t_refuses_what_debian_12_does_not_know(tmp_path: Path, site: Path) -> None:
    """The check can fail: the ``http2 on;`` form of nginx 1.25.1+ is refused by this nginx (Debian 12's 1.22)."""
    nginx = require_tool("nginx", "nginx")
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version)
    assert found, version
    if tuple(int(g) for g in found.groups()) >= (1, 25, 1):
        pytest.skip(f"this nginx ({version.strip()}) knows http2 on; Debian 12's does not")
    text = substitute(site.read_text(), "listen 443 ssl http2;", "listen 443 ssl;\n    http2 on;", 1)
    site.write_text(text)
    result = nginx_t(nginx, nginx_main_config(tmp_path, site), tmp_path)
    assert result.returncode != 0
    assert 'unknown directive "http2"' in result.stderr


def directives(text: str) -> list[str]:
    """The file's directives, comments removed, one per item, whitespace collapsed."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return [" ".join(part.split()) for part in re.split(r"[;{}]", code) if part.strip()]


def test_the_site_proxies_as_the_node_expects() -> None:
    """What the node relies on, read from the shipped file (each is explained in docs/operators.md)."""
    found = directives(NGINX_SITE.read_text())
    # the request line passes unchanged: proxy_pass names no URI after the port (signed node-to-node requests)
    passes = [d for d in found if d.startswith("proxy_pass ")]
    assert passes, "no proxy_pass"
    assert all(re.fullmatch(r"proxy_pass http://127\.0\.0\.1:8400", d) for d in passes), passes
    # the client's address, replaced (not appended to) so that a client cannot choose it; the scheme
    assert "proxy_set_header X-Forwarded-For $remote_addr" in found
    assert "proxy_set_header X-Forwarded-Proto $scheme" in found
    # HSTS, no framing, on every answer (also errors: "always")
    assert 'add_header Strict-Transport-Security "max-age=31536000" always' in found
    assert 'add_header X-Frame-Options "DENY" always' in found
    assert "add_header Content-Security-Policy \"frame-ancestors 'none'\" always" in found
    # add_header in a location would silently drop the server's ones there: they live at server level only
    assert sum(d.startswith("add_header ") for d in found) == 4
    # bodies: 8 MiB federation pushes and 8 MiB CSV imports with their multipart envelope
    assert "client_max_body_size 9m" in found
    assert "listen 443 ssl http2" in found and "http2 on" not in found
