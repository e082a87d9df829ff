from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from protocol.envelope import Entry, KeyInfo, Keyring, sign_entry
from protocol.keys import SigningKey
from protocol.records import RECORD_TYPES

T0 = 1_790_000_000_000


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_seed(bytes(range(32)))


@pytest.fixture
def ring(key: SigningKey) -> Keyring:
    r = Keyring()
    r.add("coopaname", KeyInfo(key.verify_key))
    return r


def make_chain(key: SigningKey, n: int, origin: str = "coopaname", start_ts: int = T0) -> list[Entry]:
    entries: list[Entry] = []
    prev = None
    for seq in range(1, n + 1):
        e = sign_entry(
            key,
            type="profile",
            type_version=RECORD_TYPES["profile"].version,
            origin=origin,
            id=f"m-{seq % 7}",
            seq=seq,
            created=T0,
            ts=start_ts + seq,
            prev=prev,
            body={"display_name": f"Membre {seq}", "skills": ["menuiserie"] * (seq % 3)},
        )
        entries.append(e)
        prev = e.hash
    return entries


@pytest.fixture
def chain(key: SigningKey) -> Callable[..., list[Entry]]:
    def build(n: int, **kw: Any) -> list[Entry]:
        return make_chain(key, n, **kw)

    return build
