"""Ed25519 signing keys and the public keys nodes publish.

A key id (``kid``) is derived from the public key, never chosen: the first 8 bytes of SHA-256 of the raw 32-byte
public key, as 16 lowercase hex digits. Two nodes can therefore never disagree about which key an id names.

Serialisation is pure (bytes in, bytes out); writing the private key to disk with mode 0600 is the job of
``node.keyfile``, which owns the file system.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import BadSignatureError, LocalProtocolError, MalformedError

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def key_id(public_key: bytes) -> str:
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise MalformedError(f"an Ed25519 public key has {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}")
    return hashlib.sha256(public_key).digest()[:8].hex()


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """A public key, ready to check signatures."""

    public_bytes: bytes
    kid: str
    _key: Ed25519PublicKey

    @classmethod
    def from_bytes(cls, public_bytes: bytes) -> VerifyKey:
        kid = key_id(public_bytes)
        try:
            key = Ed25519PublicKey.from_public_bytes(public_bytes)
        except ValueError as exc:
            raise MalformedError("not a valid Ed25519 public key") from exc
        return cls(bytes(public_bytes), kid, key)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise :class:`BadSignatureError` unless ``signature`` is this key's over ``message``."""
        if len(signature) != SIGNATURE_SIZE:
            raise BadSignatureError(f"signature has {len(signature)} bytes, not {SIGNATURE_SIZE}")
        try:
            self._key.verify(signature, message)
        except InvalidSignature as exc:
            raise BadSignatureError(f"signature does not verify with key {self.kid}") from exc


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key. ``repr`` never shows the secret."""

    seed: bytes
    verify_key: VerifyKey
    _key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        if len(seed) != SEED_SIZE:
            raise LocalProtocolError(f"an Ed25519 seed has {SEED_SIZE} bytes, not {len(seed)}")
        key = Ed25519PrivateKey.from_private_bytes(seed)
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(bytes(seed), VerifyKey.from_bytes(public), key)

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key from the operating system's CSPRNG (the one place this module touches the OS)."""
        key = Ed25519PrivateKey.generate()
        return cls.from_seed(
            key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        )

    @property
    def kid(self) -> str:
        return self.verify_key.kid

    @property
    def public_bytes(self) -> bytes:
        return self.verify_key.public_bytes

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self) -> bytes:
        """PKCS#8 PEM, the form every tool (openssl, cryptography) reads."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise MalformedError("not a PEM-encoded private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise MalformedError("the PEM key is not an Ed25519 key")
        return cls.from_seed(
            key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        )

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"
