"""Passwords: how they are hashed, and which ones are accepted.

Hashing follows OWASP's Password Storage Cheat Sheet: Argon2id with m=19 MiB, t=2, p=1 (argon2-cffi, the
parameters stored in the PHC string). Hashes made before (scrypt, ``scrypt$n$r$p$salt$hash``) still verify, and
:meth:`PasswordHasher.needs_rehash` says so for them and for Argon2 hashes of other parameters: the account's
next successful sign-in stores a fresh hash (the password is only in memory then). Hashing runs in a worker
thread so the event loop never blocks.

The policy (:func:`check_password`), used wherever a password is set (invitation, reset, ``bigre users``): 10 to
1024 characters, not one of the 10,000 most common passwords (``node/data/common-passwords.txt``, source and
licence in its header), not the account's own e-mail address.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Final

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from node.errors import InvalidInput

log = logging.getLogger(__name__)

MIN_PASSWORD: Final = 10
MAX_PASSWORD: Final = 1024
COMMON_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
# OWASP's first Argon2id configuration: 19 MiB of memory, 2 iterations, 1 degree of parallelism
MEMORY_KIB: Final = 19 * 1024
TIME_COST: Final = 2
PARALLELISM: Final = 1


class PasswordHasher:
    """Argon2id with the given cost (lower it only in tests), able to verify the older scrypt hashes."""

    def __init__(
        self, *, memory_kib: int = MEMORY_KIB, time_cost: int = TIME_COST, parallelism: int = PARALLELISM
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=argon2.Type.ID
        )

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password: str, stored: str) -> bool:
        if stored.startswith("scrypt$"):
            return _verify_scrypt(password, stored)
        try:
            return self._argon2.verify(stored, password)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError):
            log.error("a stored password hash is unreadable")
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made by an older scheme or with other parameters than this hasher's."""
        if not stored.startswith("$argon2id$"):
            return True
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, password: str, stored: str) -> bool:
        return await asyncio.to_thread(self.verify, password, stored)


def scrypt_hash(password: str, salt: bytes, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """A hash in the format of the releases before Argon2 (kept to verify those hashes, and to test that)."""
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        log.error("a stored password hash is unreadable")
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ------------------------------------------------------------------------------------------------ policy


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the most common passwords (read once per process)."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """Whether ``password`` (whatever its case) is one of the most common passwords."""
    common = common_passwords()
    return password in common or password.lower() in common


def check_password(password: object, *, email: str | None = None) -> str:
    """``password`` if the node accepts it as a new password; else :class:`InvalidInput` on ``password``.

    The reasons are fixed sentences (the pages translate them); the password itself is never logged."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput.field("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if is_common(password):
        log.info("refused a new password: one of the most common passwords")
        raise InvalidInput.field("password", "is one of the most common passwords")
    if email is not None and password.strip().lower() in (email.lower(), email.lower().split("@", 1)[0]):
        log.info("refused a new password: the account's e-mail address")
        raise InvalidInput.field("password", "must not be your e-mail address")
    return password
