"""The keys of one origin as its chain makes them: the state every verification of that origin reads.

A receiver starts from the keys it learned outside the chain (the network file, an invitation, a governance
decision: *out-of-band* keys, ``since`` = 0) and applies, in chain order, the effects of each verified
``node`` and ``key_revocation`` entry (docs/PROTOCOL.md §7): a hand-over adds the new key from its seq and
stops the old one before it; a document can add a key (from the next seq) or narrow a known key's window; a
revocation revokes a key and stops it before the revocation's seq. Windows only ever narrow, except by a
key recovery the network voted.

Every narrowing is kept as an *event* tagged with the seq of the entry that caused it, and every key with the
seq that introduced it. That is what lets :meth:`OriginKeys.rollback` give the state as it was at any earlier
position exactly: a fork repair verifies the other branch from the common prefix, with the keys of the common
prefix, not with what the branch being dropped did to them.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from .canonical import Value
from .envelope import Entry, KeyInfo, entry_key, verify_chain
from .errors import MalformedError, UnknownKeyError
from .handover import read_claim
from .keys import PUBLIC_KEY_SIZE, VerifyKey, key_id
from .records import check_body

#: Record types whose entries change an origin's keys; a verified run is cut after each of them.
KEY_TYPES: Final = frozenset({"node", "key_revocation"})

Narrowed = Literal["not_after", "revoked_at", "last_seq"]
NARROWED: Final[tuple[Narrowed, ...]] = ("not_after", "revoked_at", "last_seq")

#: Authority of a fork repair (docs/PROTOCOL.md §6.1): none, the origin's own unrevoked key, a recovered key.
NO_AUTHORITY, ORIGIN_AUTHORITY, NETWORK_AUTHORITY = 0, 1, 2


@dataclass(slots=True)
class KeyRecord:
    """One key of an origin: its base window, where it came from, and the narrowings applied since.

    ``since`` is the seq of the entry that introduced the key (0: out-of-band). ``parent`` is the kid of the key
    that authorised it (the old key of a hand-over, the signer of a document that listed it; "" for an
    out-of-band key). ``recovered_at`` is set when a key recovery decision of the network established it.
    ``events`` are the narrowings, as (seq of the entry that made it, field, value); seq 0 for out-of-band ones.
    """

    key: VerifyKey
    not_before: int = 0
    not_after: int | None = None
    revoked_at: int | None = None
    first_seq: int = 1
    last_seq: int | None = None
    since: int = 0
    parent: str = ""
    recovered_at: int | None = None
    events: list[tuple[int, str, int]] = field(default_factory=list)
    _info: KeyInfo | None = field(default=None, repr=False, compare=False)

    @property
    def kid(self) -> str:
        return self.key.kid

    def info(self) -> KeyInfo:
        """The effective window: the base narrowed by every event (cached; events invalidate it)."""
        if self._info is None:
            values: dict[str, int | None] = {"not_after": self.not_after, "revoked_at": self.revoked_at}
            values["last_seq"] = self.last_seq
            for _, name, value in self.events:
                current = values[name]
                values[name] = value if current is None else min(current, value)
            self._info = KeyInfo(
                self.key,
                not_before=self.not_before,
                not_after=values["not_after"],
                revoked_at=values["revoked_at"],
                first_seq=self.first_seq,
                last_seq=values["last_seq"],
            )
        return self._info

    def narrow(self, seq: int, name: Narrowed, value: int) -> bool:
        """Record that the entry at ``seq`` narrows ``name`` to ``value``; True when the window changed."""
        before = getattr(self.info(), name)
        event = (seq, name, value)
        if event not in self.events:
            self.events.append(event)
            self._info = None
        return before is None or value < before

    def as_of(self, seq: int) -> KeyRecord:
        """This key as the chain up to ``seq`` made it (events of later entries undone)."""
        return KeyRecord(
            self.key,
            self.not_before,
            self.not_after,
            self.revoked_at,
            self.first_seq,
            self.last_seq,
            self.since,
            self.parent,
            self.recovered_at,
            [e for e in self.events if e[0] <= seq],
        )


class OriginKeys:
    """The key state of one origin; a :class:`protocol.envelope.KeyResolver` for that origin's entries."""

    def __init__(self, origin: str, records: Iterable[KeyRecord] = ()) -> None:
        self.origin = origin
        self._records: dict[str, KeyRecord] = {}
        for record in records:
            self._records.setdefault(record.kid, record)

    # ---------------------------------------------------------------------------------------------- reading

    def resolve(self, origin: str, kid: str) -> KeyInfo:
        record = self._records.get(kid) if origin == self.origin else None
        if record is None:
            raise UnknownKeyError(f"no key {kid} known for origin {origin}")
        return record.info()

    def record(self, kid: str) -> KeyRecord | None:
        return self._records.get(kid)

    def records(self) -> list[KeyRecord]:
        return list(self._records.values())

    def __contains__(self, kid: object) -> bool:
        return kid in self._records

    def copy(self) -> OriginKeys:
        return self.rollback(2**63)

    def rollback(self, seq: int) -> OriginKeys:
        """The state as the out-of-band keys and the chain up to ``seq`` (included) made it."""
        return OriginKeys(self.origin, [r.as_of(seq) for r in self._records.values() if r.since <= seq])

    # ------------------------------------------------------------------------------------------- applying

    def apply(self, entry: Entry, body: Mapping[str, Value] | None) -> bool:
        """Apply the key effects of a VERIFIED entry of this origin (docs/PROTOCOL.md §7); True if keys changed.

        Effects are pure narrowings and additions tagged with the entry's seq, so applying an entry twice
        changes nothing the second time.
        """
        h = entry.header
        if h.origin != self.origin or body is None:
            return False
        if h.type == "node" and h.type_version[0] == 1:
            return self._apply_document(entry, body)
        if h.type == "key_revocation" and h.type_version[0] == 1:
            return self._apply_revocation(entry, body)
        return False

    def _apply_document(self, entry: Entry, body: Mapping[str, Value]) -> bool:
        h = entry.header
        n, signer = h.seq, h.kid
        changed = False
        claim = read_claim(entry.body, signer)
        handover_from = claim.old_kid if claim is not None and claim.old_kid != signer else None
        if signer not in self._records and claim is not None and handover_from in self._records:
            self._records[signer] = KeyRecord(
                VerifyKey.from_bytes(claim.new_key),
                not_before=claim.not_before,
                not_after=claim.not_after,
                revoked_at=claim.revoked_at,
                first_seq=n,
                last_seq=claim.last_seq,
                since=n,
                parent=handover_from,
            )
            changed = True
        if handover_from is not None and handover_from in self._records:
            old = self._records[handover_from]
            changed |= old.narrow(n, "last_seq", n - 1)
            changed |= old.narrow(n, "not_after", h.ts)
        items = body.get("keys")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            public = item.get("public_key")
            if not isinstance(public, bytes) or len(public) != PUBLIC_KEY_SIZE:
                continue
            kid = key_id(public)
            known = self._records.get(kid)
            not_after, revoked_at = _time(item, "not_after"), _time(item, "revoked_at")
            last_seq = _time(item, "last_seq")
            if known is None:
                self._records[kid] = KeyRecord(
                    VerifyKey.from_bytes(public),
                    not_before=_time(item, "not_before") or 0,
                    not_after=not_after,
                    revoked_at=revoked_at,
                    first_seq=max(n + 1, _time(item, "first_seq") or 1),
                    last_seq=last_seq,
                    since=n,
                    parent=signer,
                )
                changed = True
                continue
            closes = (not_after is not None and known.info().not_after is None) or (
                revoked_at is not None and known.info().revoked_at is None
            )
            for name, value in (("not_after", not_after), ("revoked_at", revoked_at), ("last_seq", last_seq)):
                if value is not None:
                    changed |= known.narrow(n, name, value)  # type: ignore[arg-type]
            if closes:  # a document that closes a key's window also ends it in the chain, here
                changed |= known.narrow(n, "last_seq", n if kid == signer else n - 1)
        return changed

    def _apply_revocation(self, entry: Entry, body: Mapping[str, Value]) -> bool:
        h = entry.header
        kid, revoked_at = body.get("kid"), body.get("revoked_at")
        known = self._records.get(kid) if isinstance(kid, str) else None
        if known is None or type(revoked_at) is not int:
            return False
        changed = known.narrow(h.seq, "revoked_at", revoked_at)
        changed |= known.narrow(h.seq, "last_seq", h.seq if kid == h.kid else h.seq - 1)
        return changed

    def recover(self, public_key: bytes, at: int) -> bool:
        """A key recovery the network decided at ``at``: every other key is revoked from then, this one is
        established out-of-band (the one widening there is: the network's decision, not the chain's)."""
        new = VerifyKey.from_bytes(public_key)
        changed = False
        for record in self._records.values():
            if record.kid != new.kid:
                changed |= record.narrow(0, "revoked_at", at)
        current = self._records.get(new.kid)
        if current is None or current.recovered_at != at or current.since != 0 or current.events:
            self._records[new.kid] = KeyRecord(new, first_seq=1, recovered_at=at)
            changed = True
        return changed

    def add(self, record: KeyRecord) -> bool:
        """Add an out-of-band key (an anchor) unless its kid is known."""
        if record.kid in self._records:
            return False
        self._records[record.kid] = record
        return True


def verify_history(entries: Sequence[Entry], keys: OriginKeys, after: tuple[int, bytes] | None = None) -> None:
    """Verify a run of one origin whose entries may change that origin's keys (docs/PROTOCOL.md §6 and §7).

    The run is cut after each ``node`` and ``key_revocation`` entry; each segment is verified as a run
    (:func:`protocol.envelope.verify_chain`: links, every key window, the last signature), then the key
    effects of its last entry are applied to ``keys`` (its body checked first, section 5.3), before the next
    segment is verified. ``keys`` is left as the run made it.
    """
    segment: list[Entry] = []
    for entry in entries:
        segment.append(entry)
        if entry.header.type in KEY_TYPES:
            verify_chain(segment, keys, after)
            keys.apply(entry, check_body(entry))
            after, segment = (entry.header.seq, entry.hash), []
    verify_chain(segment, keys, after)


def _time(item: Mapping[str, Value], name: str) -> int | None:
    value = item.get(name)
    return value if type(value) is int and value >= 0 else None


# --------------------------------------------------------------------------------------------- fork repairs


def repair_authority(branch: OriginKeys, kid: str, base: OriginKeys, current: OriginKeys) -> int:
    """How much a fork repair signed by ``kid`` in ``branch`` weighs, for a receiver whose keys are ``current``.

    ``base`` is the state at the last position both branches share. A key the network recovered (and did not
    revoke since) gives :data:`NETWORK_AUTHORITY`. Otherwise the signer's authority is traced back, through the
    keys that authorised it (hand-over, document), to a key of ``base``: that key must not be revoked in
    ``current``, the receiver's own view (so a branch signed with a key the receiver's chain has revoked never
    wins), giving :data:`ORIGIN_AUTHORITY`; else :data:`NO_AUTHORITY`.
    """
    record = branch.record(kid)
    if record is None:
        return NO_AUTHORITY
    if record.recovered_at is not None:
        now = current.record(kid)
        return NETWORK_AUTHORITY if now is not None and not now.info().revoked else NO_AUTHORITY
    seen: set[str] = set()
    while record.kid not in base:
        if record.kid in seen or not record.parent:
            return NO_AUTHORITY
        seen.add(record.kid)
        parent = branch.record(record.parent)
        if parent is None:
            return NO_AUTHORITY
        record = parent
    root = current.record(record.kid)
    if root is None or root.info().revoked:
        return NO_AUTHORITY
    return ORIGIN_AUTHORITY


def check_repair(entry: Entry, body: Mapping[str, Value] | None, named: bytes | None) -> tuple[int, bytes] | None:
    """The (seq, hash) a ``fork_repair`` names, checked against ``named``: the hash of the entry its own chain
    holds at that seq. A repair must name an earlier position of its own chain (else ``malformed``)."""
    if entry.header.type != "fork_repair" or body is None:
        return None
    seq, hash_ = body.get("seq"), body.get("hash")
    if type(seq) is not int or not isinstance(hash_, bytes):
        raise MalformedError("a fork_repair names a seq and a hash")
    if seq >= entry.header.seq:
        raise MalformedError(f"a fork_repair at seq {entry.header.seq} must name an earlier seq, not {seq}")
    if named is not None and named != hash_:
        raise MalformedError(
            f"the fork_repair at {entry.header.origin}/{entry.header.seq} names entry {hash_.hex()[:16]} at seq "
            f"{seq}, but its own chain holds {named.hex()[:16]} there"
        )
    return seq, hash_


def signer_of(entry: Entry, keys: OriginKeys) -> KeyInfo:
    """The key that signed ``entry`` (hand-overs included), as ``keys`` see it."""
    return entry_key(entry, keys)
