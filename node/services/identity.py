"""The node's identity in the network: its node document, its signing keys and their history, rotation and
revocation.

Rotation: a new key is generated and saved (mode 0600), the node publishes a node document that lists the new
key and closes the old key's window (``not_after`` = now) — signed with the OLD key, so every peer can check
the hand-over with the key it already trusts — and then signs with the new key. The keys' history is kept in
``keys/history.json`` so later node documents still list past keys and old records keep verifying.

Revocation: a ``key_revocation`` record (signed with the current key) tells every node to refuse entries that
the compromised key signed from the revocation time on; entries signed before stay valid.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from sqlalchemy.orm import Session

from node.clock import Clock
from node.config import NodeConfig, save_config
from node.errors import InvalidInput
from node.keyfile import NodeKey, load_signing_key, write_key
from node.records.log import jsonable
from node.records.publisher import Publisher
from node.storage.database import Database
from node.storage.models import LogEntry
from protocol import ENVELOPE_VERSION, SigningKey, sign_handover

log = logging.getLogger(__name__)

HISTORY: Final = "history.json"
REVOCATION_REASONS: Final = ("compromised", "superseded", "lost")


class Identity:
    """Who this node is to the others, and the keys it signs with."""

    def __init__(
        self,
        config: NodeConfig,
        key: NodeKey,
        db: Database,
        publisher: Publisher,
        clock: Clock,
        on_keys_changed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.key = key
        self.db = db
        self.publisher = publisher
        self.clock = clock
        self.on_keys_changed = on_keys_changed

    # --------------------------------------------------------------------------------------- the document

    def key_history(self) -> list[dict[str, Any]]:
        path = self.config.key_dir / HISTORY
        if not path.exists():
            return []
        history: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        return history

    def document_keys(self) -> list[dict[str, Any]]:
        """Past keys (with their windows) and the current one, as the node document lists them."""
        current_key = self.key()
        history = self.key_history()
        keys = [_document_key(k) for k in history if k["kid"] != current_key.kid]
        current = next((k for k in history if k["kid"] == current_key.kid), None)
        keys.append(
            {
                "kid": current_key.kid,
                "public_key": current_key.public_bytes,
                "not_before": (current or {}).get("not_before", 0),
                **({"first_seq": current["first_seq"]} if current and current.get("first_seq") is not None else {}),
            }
        )
        return keys

    def document_body(self, keys: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "display_name": self.config.display_name,
            "url": self.config.url,
            "protocol_versions": [ENVELOPE_VERSION],
            "keys": self.document_keys() if keys is None else keys,
            "status": "member",
        }

    async def ensure_document(self) -> None:
        """Publish this node's document when it is missing or no longer says what the configuration says."""
        wanted = self.document_body()
        async with self.db.write() as session:
            current = await self.publisher.published_body(session, "node")
            if current is not None:
                current = {k: v for k, v in current.items() if k != "handover"}  # a hand-over says it once
            if current == jsonable(wanted):
                return
            await self.publisher.publish(session, type="node", record_id="node", body=wanted, created=self.clock())
        log.info("published the node document of %s (key %s)", self.config.name, self.key().kid)

    # -------------------------------------------------------------------------------------------- keys

    def follow_document_sync(self, session: Session) -> None:
        """Another worker of this node may have rotated the key: sign with the key the published node document
        names as current (its private half is in the key folder: :meth:`rotate` writes it before publishing the
        hand-over). Called under the head lock before signing, so no entry after a hand-over is signed with the
        key it replaced."""
        body = self.publisher.published_body_sync(session, "node")
        current = [k for k in (body or {}).get("keys", []) if "not_after" not in k and "revoked_at" not in k]
        if not current:
            return
        newest = max(current, key=lambda k: int(k.get("not_before", 0)))
        kid = str(newest.get("kid", ""))
        if not kid or kid == self.key().kid:
            return
        self.key.replace(load_signing_key(self.config.key_dir, kid))
        self.config = dataclasses.replace(self.config, key_id=kid)
        log.warning("another worker rotated the key of %s: now signing with %s", self.config.name, kid)

    async def follow_document(self) -> None:
        async with self.db.read() as session:
            await session.run_sync(self.follow_document_sync)

    async def rotate(self) -> SigningKey:
        """Move to a new key with a hand-over (docs/PROTOCOL.md 7.2, release 1.1): a node document signed by the
        NEW key, carrying the OLD key's signature over its exact position (origin, seq, prev) and the new key.
        A peer verifies it on arrival with the old key it already trusts, and the old key signs nothing after
        that position, whatever date a thief writes (its window ends at ``last_seq``). The position is read
        under the head lock, in the transaction that appends the hand-over, so no entry can take it meanwhile."""
        old, new, now = self.key(), SigningKey.generate(), self.clock()
        write_key(self.config.key_dir, new)  # the private half first: a failure below leaves an unused key file
        previous = next((k for k in self.key_history() if k["kid"] == old.kid), {})
        kept = [k for k in self.key_history() if k["kid"] not in (old.kid, new.kid)]
        placed: list[dict[str, Any]] = []

        def hand_over(seq: int, prev: bytes | None) -> dict[str, Any]:
            history = [
                *kept,
                {
                    "kid": old.kid,
                    "public_key": old.public_bytes.hex(),
                    "not_before": previous.get("not_before", 0),
                    **({"first_seq": previous["first_seq"]} if "first_seq" in previous else {}),
                    "not_after": now,
                    "last_seq": seq - 1,
                },
                {"kid": new.kid, "public_key": new.public_bytes.hex(), "not_before": now, "first_seq": seq},
            ]
            placed[:] = history
            body = self.document_body(keys=[_document_key(k, revoked=False) for k in history])
            body["handover"] = sign_handover(old, origin=self.config.name, seq=seq, prev=prev, new_key=new.public_bytes)
            return body

        self.key.replace(new)  # the hand-over is signed by the new key
        try:
            async with self.db.write() as session:
                await self.publisher.publish_at_head(
                    session, type="node", record_id="node", body_at=hand_over, created=now
                )
        except BaseException:
            self.key.replace(old)
            raise
        self._save_history(placed)
        self.config = dataclasses.replace(self.config, key_id=new.kid)
        save_config(self.config)
        log.warning("key rotated: %s -> %s", old.kid, new.kid)
        if self.on_keys_changed is not None:
            await self.on_keys_changed()
        return new

    async def repair_fork(self, seq: int, reason: str, text: str | None = None) -> int:
        """Tell the network which branch of this node's chain is its own after a fork (a thief's entries at the
        same positions, docs/PROTOCOL.md 6.1): a ``fork_repair`` naming this node's own entry at ``seq``. Every
        peer that holds the other branch fetches this one, checks it from the common part and switches to it.
        It must be signed by a key valid before the fork, or by the key a ``key_recovery`` decision gave this
        node: after a leak, rotate and revoke first. The seq of the repair entry."""
        async with self.db.write() as session:
            own = await session.get(LogEntry, (self.config.name, seq))
            if own is None:
                raise InvalidInput.field("seq", "this node holds no entry of its own at this position")
            body: dict[str, Any] = {"seq": seq, "hash": own.hash, "reason": reason}
            if text:
                body["text"] = text
            entry = await self.publisher.publish(
                session, type="fork_repair", record_id=f"repair-{seq}", body=body, created=self.clock()
            )
        log.warning("fork repair published: %s stands by its own entry at seq %d", self.config.name, seq)
        return entry.header.seq

    async def revoke(self, kid: object, reason: object = "compromised") -> None:
        if not isinstance(kid, str) or not kid:
            raise InvalidInput.field("kid", "is required")
        if reason not in REVOCATION_REASONS:
            raise InvalidInput.field("reason", "compromised, superseded or lost")
        if kid == self.key().kid:
            raise InvalidInput.field("kid", "rotate first: the current key cannot revoke itself and keep signing")
        history = self.key_history()
        if not any(k["kid"] == kid for k in history):
            raise InvalidInput.field("kid", f"no past key {kid} of this node")
        now = self.clock()
        for k in history:
            if k["kid"] == kid:
                k["revoked_at"] = now
        self._save_history(history)
        async with self.db.write() as session:
            await self.publisher.publish(
                session,
                type="key_revocation",
                record_id=f"revocation-{kid}",
                body={"kid": kid, "revoked_at": now, "reason": reason, "replacement": self.key().kid},
                created=now,
            )
        log.warning("key %s revoked from %d (%s)", kid, now, reason)
        if self.on_keys_changed is not None:
            await self.on_keys_changed()

    def _save_history(self, history: list[dict[str, Any]]) -> None:
        path = self.config.key_dir / HISTORY
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


def _document_key(k: dict[str, Any], *, revoked: bool = True) -> dict[str, Any]:
    """A history entry as the node document lists it (``revoked``: with its revocation time, if any)."""
    return {
        "kid": k["kid"],
        "public_key": bytes.fromhex(k["public_key"]),
        "not_before": k.get("not_before", 0),
        **({"not_after": k["not_after"]} if k.get("not_after") is not None else {}),
        **({"first_seq": k["first_seq"]} if k.get("first_seq") is not None else {}),
        **({"last_seq": k["last_seq"]} if k.get("last_seq") is not None else {}),
        **({"revoked_at": k["revoked_at"]} if revoked and k.get("revoked_at") is not None else {}),
    }
