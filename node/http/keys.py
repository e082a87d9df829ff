"""Key rotation and revocation for a running node (operators).

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
from pathlib import Path
from typing import Any

from aiohttp import web

from node.config import CONFIG_FILE, NodeConfig
from node.errors import Forbidden, InvalidInput
from node.http.api import json_response, member, read_json
from node.http.state import SERVICES_KEY, NodeServices
from node.keyfile import write_key
from protocol import SigningKey

log = logging.getLogger(__name__)

HISTORY = "history.json"


def key_history(config: NodeConfig) -> list[dict[str, Any]]:
    path = config.key_dir / HISTORY
    if not path.exists():
        return []
    history: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return history


def document_keys(s: NodeServices) -> list[dict[str, Any]]:
    """Past keys (with their windows) and the current one, as the node document lists them."""
    keys = [
        {
            "kid": k["kid"],
            "public_key": bytes.fromhex(k["public_key"]),
            "not_before": k.get("not_before", 0),
            **({"not_after": k["not_after"]} if k.get("not_after") is not None else {}),
            **({"revoked_at": k["revoked_at"]} if k.get("revoked_at") is not None else {}),
        }
        for k in key_history(s.config)
        if k["kid"] != s.key.kid
    ]
    current = next((k for k in key_history(s.config) if k["kid"] == s.key.kid), None)
    keys.append(
        {"kid": s.key.kid, "public_key": s.key.public_bytes, "not_before": (current or {}).get("not_before", 0)}
    )
    return keys


def _save_history(config: NodeConfig, history: list[dict[str, Any]]) -> None:
    path = config.key_dir / HISTORY
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _save_config(config: NodeConfig) -> None:
    path = Path(config.directory) / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


async def rotate(s: NodeServices) -> SigningKey:
    from node.federation_adapter.wiring import node_document_body

    old, new, now = s.key, SigningKey.generate(), s.clock()
    write_key(s.config.key_dir, new)
    history = [k for k in key_history(s.config) if k["kid"] not in (old.kid, new.kid)]
    previous = next((k for k in key_history(s.config) if k["kid"] == old.kid), {})
    history.append(
        {
            "kid": old.kid,
            "public_key": old.public_bytes.hex(),
            "not_before": previous.get("not_before", 0),
            "not_after": now,
        }
    )
    history.append({"kid": new.kid, "public_key": new.public_bytes.hex(), "not_before": now})
    _save_history(s.config, history)
    body = node_document_body(s)
    body["keys"] = [
        {
            "kid": k["kid"],
            "public_key": bytes.fromhex(k["public_key"]),
            "not_before": k.get("not_before", 0),
            **({"not_after": k["not_after"]} if k.get("not_after") is not None else {}),
        }
        for k in history
    ]
    async with s.db.write() as session:  # signed with the old key: peers check the hand-over with what they trust
        await s.publisher.publish(session, type="node", record_id="node", body=body, created=now)
    s.key = new
    s.publisher.key = new
    s.config = dataclasses.replace(s.config, key_id=new.kid)
    _save_config(s.config)
    log.warning("key rotated: %s -> %s", old.kid, new.kid)
    return new


async def revoke(s: NodeServices, kid: str, reason: str) -> None:
    if kid == s.key.kid:
        raise InvalidInput.field("kid", "rotate first: the current key cannot revoke itself and keep signing")
    history = key_history(s.config)
    if not any(k["kid"] == kid for k in history):
        raise InvalidInput.field("kid", f"no past key {kid} of this node")
    now = s.clock()
    for k in history:
        if k["kid"] == kid:
            k["revoked_at"] = now
    _save_history(s.config, history)
    async with s.db.write() as session:
        await s.publisher.publish(
            session,
            type="key_revocation",
            record_id=f"revocation-{kid}",
            body={"kid": kid, "revoked_at": now, "reason": reason, "replacement": s.key.kid},
            created=now,
        )
    log.warning("key %s revoked from %d (%s)", kid, now, reason)


def _operator(request: web.Request) -> None:
    if not member(request).is_operator:
        raise Forbidden("operators only")


async def rotate_key(request: web.Request) -> web.Response:
    """Rotate the node's signing key (operators)."""
    _operator(request)
    new = await rotate(request.app[SERVICES_KEY])
    return json_response({"kid": new.kid}, status=201)


async def revoke_key(request: web.Request) -> web.Response:
    """Revoke a past signing key of this node, e.g. a compromised one (operators)."""
    _operator(request)
    data = await read_json(request)
    if not isinstance(data, dict) or not isinstance(data.get("kid"), str):
        raise InvalidInput.field("kid", "is required")
    reason = data.get("reason", "compromised")
    if reason not in ("compromised", "superseded", "lost"):
        raise InvalidInput.field("reason", "compromised, superseded or lost")
    await revoke(request.app[SERVICES_KEY], data["kid"], str(reason))
    return json_response({"revoked": data["kid"]}, status=201)


def install(app: web.Application) -> None:
    app.router.add_post("/api/v1/keys/rotate", rotate_key)
    app.router.add_post("/api/v1/keys/revoke", revoke_key)
