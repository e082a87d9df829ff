"""The node's private signing key on disk: ``<node dir>/keys/<kid>.pem``, mode 0600, never logged.

The file is created with ``O_CREAT | O_EXCL`` and mode 0600 in one system call, so there is no moment when the
key exists with wider permissions, and an existing key is never overwritten.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from node.errors import ConfigError
from protocol import MalformedError, SigningKey

KEY_DIR_NAME = "keys"


def write_key(key_dir: Path, key: SigningKey) -> Path:
    """Write ``key`` as ``key_dir/<kid>.pem`` (mode 0600); refuse to overwrite anything."""
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_dir / f"{key.kid}.pem"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError as exc:
        raise ConfigError(f"key file {path} already exists") from exc
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, but may have narrowed it: be exact
        data = key.to_pem()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_key(path: Path) -> SigningKey:
    """Load a key file, refusing one that other users could read."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"key file {path} is accessible to other users (mode {oct(mode & 0o777)}); chmod 600 it")
        key = SigningKey.from_pem(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from exc
    except MalformedError as exc:
        raise ConfigError(f"key file {path} is not an Ed25519 PEM key") from exc
    if path.stem != key.kid:
        raise ConfigError(f"key file {path} holds key {key.kid}, not {path.stem}")
    return key


def load_signing_key(key_dir: Path, kid: str) -> SigningKey:
    return read_key(key_dir / f"{kid}.pem")


class NodeKey:
    """The node's current signing key, held in one place: everything that signs (the publisher, direct records,
    federation requests) calls this, so a rotation replaces the key for all of them at once."""

    __slots__ = ("_key",)

    def __init__(self, key: SigningKey) -> None:
        self._key = key

    def __call__(self) -> SigningKey:
        return self._key

    def replace(self, key: SigningKey) -> None:
        self._key = key
