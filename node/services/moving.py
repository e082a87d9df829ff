"""Members moving to another coop: their profile, offers and mentoring follow them; the old node forwards.

The path, between the member's old node A (the *origin*) and their new node B (the *destination*):

1. On A the member asks to move (:meth:`Moving.request`). A signs a **move request** (a ``member_move`` direct
   record) with the member's portable data (profile fields with their visibilities, the offers and mentoring
   they authored, e-mail and name, A's record ids) and queues it for B only. Nothing else leaves A.
2. On B the request waits for an operator (:meth:`Moving.incoming`); accepting it (:meth:`Moving.accept`)
   creates the account (an invitation link for the operator to hand over), the profile with the same
   visibilities and the offers and mentoring again, all under B's origin, through the ordinary services (so
   they are published, indexed and replicated like any other). B then signs a **move acceptance** (a
   ``member_move_acceptance``) mapping A's record ids to B's and queues it for A.
3. On the acceptance A publishes, for each record that ever left A, a tombstone with reason ``moved`` and
   ``forward`` = ``B/<new id>``, then erases the member's local data by the directory's ordinary erasure.
   The tombstones replicate to the whole network, so every node can send readers of an old address on
   (:func:`moved_to`).

The two signed records are kept on both sides in ``member_moves``; once the move is done the request's body is
dropped and its signed header kept (it holds the body's hash), so the proof outlives the member's data.
Deliveries are idempotent; a request from a node that is not a direct member peer, or an acceptance for a move A
never asked of the sender, is refused for good (the sender is told) and logged.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation.errors import RecordRefusedError
from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from node.records.publisher import Publisher, new_record_id
from node.search import index as search
from node.services.accounts import Accounts
from node.services.direct import DirectSender, fit
from node.services.directory import Directory
from node.services.profiles import PROFILE_FIELDS
from node.services.things import MENTORING, OFFERS, ThingKind, Things
from node.storage.database import Database
from node.storage.federation_models import PeerRow
from node.storage.models import Account, LogEntry, MemberProfile, RecordState
from node.storage.moving_models import MemberMove
from node.storage.outbox import require_direct_peer
from node.viewer import Viewer
from protocol import Entry, Record, canonical, decode_entry
from protocol.envelope import MAX_DIRECT_ENVELOPE_BYTES, ORIGIN_RE

log = logging.getLogger(__name__)

FORMAT: Final = 1  # of the ``data`` document a move row keeps (the request as this node reads it)
#: what follows the member, by kind: (payload key, thing kind, record type of its tombstone)
MOVABLE: Final[tuple[tuple[str, ThingKind], ...]] = (("offers", OFFERS), ("mentoring", MENTORING))


class Moving:
    """The moving service of one node; ``direct`` sends the two move records."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        clock: Clock,
        accounts: Accounts,
        things: Things,
        directory: Directory,
        publisher: Publisher,
        direct: DirectSender,
    ) -> None:
        self.db = db
        self.name = name
        self.direct = direct
        self.clock = clock
        self.accounts = accounts
        self.things = things
        self.directory = directory
        self.publisher = publisher
        self._accepting: set[tuple[str, str]] = set()  # moves being accepted now (one operator at a time)

    # ------------------------------------------------------------------------------ origin: the member asks

    async def request(self, viewer: Viewer, to_node: object) -> dict[str, Any]:
        """Ask to move the viewer to ``to_node``: the signed request is queued for that node only."""
        if viewer.account_id is None or viewer.member_id is None:
            raise NotAuthenticated("log in as a member with a profile to move")
        if not isinstance(to_node, str) or ORIGIN_RE.match(to_node) is None:
            raise InvalidInput.field("to_node", "must be the name of a coop of the network")
        if to_node == self.name:
            raise InvalidInput.field("to_node", "you are already a member of this coop")
        now = self.clock()
        async with self.db.write() as session:
            await require_direct_peer(session, to_node)
            ongoing = await session.scalar(
                select(MemberMove.id).where(
                    MemberMove.direction == "out",
                    MemberMove.account_id == viewer.account_id,
                    MemberMove.status.in_(("requested", "accepted")),
                )
            )
            if ongoing is not None:
                raise Conflict("a move of this account is already under way")
            account = await session.get(Account, viewer.account_id)
            profile = await session.get(MemberProfile, viewer.account_id)
            if account is None or profile is None:
                raise NotFound("no profile")
            move_id = new_record_id()
            payload = await self._portable(session, move_id, account, profile)
            entry = await self.direct.queue(session, "member_move", _request_body(payload, to_node))
            move = MemberMove(
                direction="out",
                origin=self.name,
                move_id=move_id,
                to_node=to_node,
                status="requested",
                account_id=account.id,
                member_id=profile.record_id,
                new_member_id=None,
                display_name=account.display_name,
                data=payload,
                mapping={},
                request=pack_envelopes([entry.encode()]),
                acceptance=None,
                requested_at=now,
            )
            session.add(move)
            await session.flush()
            view = _view(move)
        self.direct.wake()
        log.info(
            "move %s of account %s to %s requested (%d bytes)", move_id, viewer.account_id, to_node, len(entry.encode())
        )
        return view

    async def resend_legacy(self) -> int:
        """Send again, as typed records, the move records signed before protocol release 1.1.

        A move requested (or accepted) before the upgrade was carried by ``message`` parts that an upgraded node
        refuses; its row still holds the data to sign the typed record from. Moves whose kept proof is a
        ``message`` and that wait on the other node are re-sent once (the typed record then replaces the proof,
        so a later start finds nothing to do); the receiving node takes a record it already has as a duplicate.
        """
        sent = 0
        async with self.db.write() as session:
            rows = await session.scalars(
                select(MemberMove).where(MemberMove.status.in_(("requested", "accepted"))).with_for_update()
            )
            for move in rows:
                if move.direction == "out" and move.status == "requested" and _legacy(move.request):
                    entry = await self.direct.queue(session, "member_move", _request_body(move.data, move.to_node))
                    move.request = pack_envelopes([entry.encode()])
                elif move.direction == "in" and move.status == "accepted" and _legacy(move.acceptance):
                    entry = await self.direct.queue(
                        session, "member_move_acceptance", _acceptance_body(move, dict(move.mapping), move.data)
                    )
                    move.acceptance = pack_envelopes([entry.encode()])
                else:
                    continue
                sent += 1
                log.info(
                    "move %s/%s sent again as a typed record (signed before release 1.1)", move.origin, move.move_id
                )
        if sent:
            self.direct.wake()
        return sent

    async def my_moves(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The moves the viewer asked for from this node, newest first."""
        if viewer.account_id is None:
            raise NotAuthenticated("log in first")
        async with self.db.read() as session:
            rows = (
                await session.scalars(
                    select(MemberMove)
                    .where(MemberMove.direction == "out", MemberMove.account_id == viewer.account_id)
                    .order_by(MemberMove.id.desc())
                )
            ).all()
            return [_view(r) for r in rows]

    async def _portable(
        self, session: AsyncSession, move_id: str, account: Account, profile: MemberProfile
    ) -> dict[str, Any]:
        """The member's portable data: theirs to take (GDPR Art. 20), sent to the one coop they chose."""
        things: dict[str, list[dict[str, Any]]] = {}
        for key, kind in MOVABLE:
            rows = (
                await session.scalars(
                    select(kind.model).where(kind.model.author_id == account.id).order_by(kind.model.id)
                )
            ).all()
            things[key] = [
                {
                    "id": row.record_id,
                    "data": {k: v for k, v in row.data.items() if k in kind.inputs},
                    **({"visibility": row.visibility} if kind.has_visibility else {}),
                }
                for row in rows
            ]
        return {
            "v": FORMAT,
            "move": move_id,
            "origin": self.name,
            "member": profile.record_id,
            "email": account.email,
            "display_name": account.display_name,
            "profile": {  # what is private stays here: the member re-enters it on the new node if they wish
                "fields": {k: v for k, v in profile.data.items() if k in PROFILE_FIELDS and _portable(profile, k)},
                "visibility": {
                    k: v for k, v in profile.visibility.items() if k in PROFILE_FIELDS and _portable(profile, k)
                },
            },
            **things,
        }

    # ------------------------------------------------------------------------ destination: the operator

    async def incoming(self, viewer: Viewer, status: str | None = "pending") -> list[dict[str, Any]]:
        """Moves of members towards this coop (operators): pending ones by default, every one with None."""
        _operator(viewer, "list moves")
        async with self.db.read() as session:
            query = select(MemberMove).where(MemberMove.direction == "in").order_by(MemberMove.id.desc())
            if status is not None:
                query = query.where(MemberMove.status == status)
            rows = (await session.scalars(query.limit(200))).all()
            return [_view(r, detailed=True) for r in rows]

    async def accept(self, viewer: Viewer, origin: str, move_id: str) -> dict[str, Any]:
        """Take the member in: account, profile and things under this node, then the signed acceptance.

        Resumable: each step is noted on the move row, so accepting again after a failure (say, an e-mail
        already in use here, freed since) goes on from where it stopped. Within one process a move is
        accepted by one request at a time.
        """
        _operator(viewer, "accept moves")
        ref = (origin, move_id)
        if ref in self._accepting:
            raise Conflict("this move is being accepted")
        self._accepting.add(ref)
        try:
            return await self._accept(origin, move_id)
        finally:
            self._accepting.discard(ref)

    async def _accept(self, origin: str, move_id: str) -> dict[str, Any]:
        token: str | None = None
        async with self.db.write() as session:
            move = await _incoming_move(session, origin, move_id)
            if move.account_id is None:
                account, new_member_id = await self.accounts.create_account(
                    session, email=move.data["email"], display_name=move.display_name, role="member"
                )
                invitation, token = self.accounts.new_invitation(account.id, account.role)
                session.add(invitation)
                move.account_id, move.new_member_id = account.id, new_member_id
            assert move.account_id is not None and move.new_member_id is not None
            member = Viewer(
                account_id=move.account_id, role="member", member_id=move.new_member_id, email=move.data["email"]
            )
            data = dict(move.data)
            mapping = dict(move.mapping)
        dropped = await self._take_profile(member, data.get("profile") or {})
        skipped: list[str] = []
        for key, kind in MOVABLE:
            for item in data.get(key) or []:
                if item["id"] in mapping:
                    continue  # created by an earlier attempt
                payload = {**item["data"], **({"visibility": item["visibility"]} if "visibility" in item else {})}
                try:
                    created = await self.things.create(kind, member, payload)
                except InvalidInput as exc:
                    log.warning("move %s/%s: %s %s not taken: %s", origin, move_id, kind.name, item["id"], exc)
                    skipped.append(item["id"])
                    continue
                mapping[item["id"]] = created["id"]
                async with self.db.write() as session:
                    (await _incoming_move(session, origin, move_id)).mapping = dict(mapping)
        mapping[data["member"]] = member.member_id
        now = self.clock()
        async with self.db.write() as session:
            move = await _incoming_move(session, origin, move_id)
            entry = await self.direct.queue(session, "member_move_acceptance", _acceptance_body(move, mapping, data))
            move.mapping = mapping
            move.status, move.accepted_at = "accepted", now
            move.acceptance = pack_envelopes([entry.encode()])
            # the data now lives in the account; keep only the request's signed headers as the proof
            move.request = erase_bodies(move.request)
            move.data = {"email": data["email"], "member": data["member"]}
            view = _view(move, detailed=True)
        self.direct.wake()
        log.info("move %s/%s accepted: account %s, %d records mapped", origin, move_id, member.account_id, len(mapping))
        return {**view, "invitation_token": token, "dropped_fields": dropped, "skipped": skipped}

    async def _take_profile(self, member: Viewer, profile: dict[str, Any]) -> list[str]:
        """Store the profile with its visibilities (so it publishes under this node). A field this node does
        not accept (an unknown town, a trade code retired here) is dropped rather than stopping the move."""
        fields = {k: v for k, v in (profile.get("fields") or {}).items() if k in PROFILE_FIELDS}
        visibility = {k: v for k, v in (profile.get("visibility") or {}).items() if k in PROFILE_FIELDS}
        dropped: list[str] = []
        for _ in range(3):
            try:
                await self.directory.update_my_profile(
                    member, {"fields": fields, "visibility": visibility}, replace=True
                )
                break
            except InvalidInput as exc:
                bad = ({k.removeprefix("visibility.") for k in exc.fields} or set(fields)) - {"display_name"}
                if not bad:
                    raise
                dropped += sorted(bad)
                fields = {k: v for k, v in fields.items() if k not in bad}
                visibility = {k: v for k, v in visibility.items() if k not in bad}
        else:
            raise InvalidInput("the moving member's profile is not acceptable here")
        if dropped:
            log.warning("moved profile of account %s: fields %s dropped", member.account_id, dropped)
        return dropped

    # ------------------------------------------------------------------------------- both: receiving

    async def receive_request(self, record: Record) -> bool:
        """Take in a ``member_move`` another node sent: it waits for an operator. True when it is new here."""
        sender, body = record.origin, record.body or {}
        payload = _payload_of(body, sender)
        if "@" not in payload["email"]:
            raise RecordRefusedError(f"move {sender}/{payload['move']}: {payload['email']!r} is not an e-mail address")
        async with self.db.write() as session:
            await _require_peer(session, sender, "move request")
            held = await session.scalar(
                select(MemberMove.id).where(MemberMove.origin == sender, MemberMove.move_id == payload["move"])
            )
            if held is not None:
                return False  # the same request again
            session.add(
                MemberMove(
                    direction="in",
                    origin=sender,
                    move_id=payload["move"],
                    to_node=self.name,
                    status="pending",
                    account_id=None,
                    member_id=payload["member"],
                    new_member_id=None,
                    display_name=payload["display_name"],
                    data=payload,
                    mapping={},
                    request=pack_envelopes([record.entry.encode()]),
                    acceptance=None,
                    requested_at=self.clock(),
                )
            )
            try:
                await session.flush()
            except IntegrityError:  # a concurrent delivery of the same request won
                return False
        log.info(
            "move %s/%s of member %s received; waiting for an operator", sender, payload["move"], payload["member"]
        )
        return True

    async def receive_acceptance(self, record: Record) -> bool:
        """Take in a ``member_move_acceptance``: publish the forwards, then erase the member's local data."""
        async with self.db.write() as session:
            await _require_peer(session, record.origin, "move acceptance")
            if not await self._take_acceptance(session, record):
                return False
        await self._complete(str((record.body or {})["move"]))
        return True

    async def _take_acceptance(self, session: AsyncSession, record: Record) -> bool:
        """Publish the forwarding tombstones; True when the member's local data is to be erased now."""
        sender, now = record.origin, self.clock()
        body: dict[str, Any] = dict(record.body or {})
        move_id = str(body["move"])
        move = await session.scalar(
            select(MemberMove)
            .where(MemberMove.direction == "out", MemberMove.origin == self.name, MemberMove.move_id == move_id)
            .with_for_update()
        )
        if move is None:
            raise RecordRefusedError(f"no move {move_id!r} was requested here")
        if move.to_node != sender:
            raise RecordRefusedError(f"move {move_id} was asked of {move.to_node}, not of {sender}")
        if move.status == "done":
            return False  # the same acceptance again: nothing to do
        if move.status == "accepted":
            return True  # published already; the erasure did not finish: finish it
        types = _record_types(move.data)
        mapping = {str(r["old"]): str(r["new"]) for r in body.get("records") or []}
        problem = _check_acceptance(str(body["member"]), mapping, move.member_id, types)
        if problem is not None:
            raise RecordRefusedError(f"acceptance of move {move_id}: {problem}")
        forwarded = 0
        for old_id, record_type in types.items():
            new_id = mapping.get(old_id)
            if new_id is None or await session.get(RecordState, (self.name, old_id)) is None:
                continue  # not taken there (erased below instead), or it never left this node
            await self.publisher.publish(
                session,
                type="tombstone",
                record_id=old_id,
                body={"target_type": record_type, "reason": "moved", "forward": f"{sender}/{new_id}"},
                created=now,
            )
            await search.unindex_record(session, self.name, old_id)
            forwarded += 1
        move.status, move.accepted_at = "accepted", now
        move.new_member_id = str(body["member"])
        move.mapping = mapping
        move.acceptance = pack_envelopes([record.entry.encode()])
        log.info("move %s to %s accepted there: %d forwarding tombstones published", move_id, sender, forwarded)
        return True

    async def _complete(self, move_id: str) -> None:
        """Erase the member's local data (the ordinary erasure: what did not move gets ``erased`` tombstones),
        then mark the move done and keep only the request's signed headers."""
        async with self.db.read() as session:
            account_id = await session.scalar(
                select(MemberMove.account_id).where(
                    MemberMove.direction == "out", MemberMove.origin == self.name, MemberMove.move_id == move_id
                )
            )
        if account_id is not None:
            with contextlib.suppress(NotFound):  # erased already (an earlier delivery got this far)
                await self.directory.erase_account(account_id)
        async with self.db.write() as session:
            move = await session.scalar(
                select(MemberMove).where(
                    MemberMove.direction == "out", MemberMove.origin == self.name, MemberMove.move_id == move_id
                )
            )
            assert move is not None
            move.status, move.done_at, move.account_id = "done", self.clock(), None
            move.request = erase_bodies(move.request)
            move.data = {"member": move.member_id, "records": _record_types(move.data)}
        log.info("move %s done: account %s erased here, forwards kept", move_id, account_id)


# -------------------------------------------------------------------------------------------- forwards


async def moved_to(db: Database, origin: str, record_id: str) -> str | None:
    """Where a record lives now (``origin/id``) when its newest entry is a ``moved`` tombstone; else None.

    Read from the tombstone entry itself (``records`` keeps no body for deleted records, ``entries`` keeps the
    tombstone's own body), so it works on every node that replicated the origin's log.
    """
    async with db.read() as session:
        state = await session.get(RecordState, (origin, record_id))
        if state is None or not state.deleted:
            return None
        raw = await session.scalar(
            select(LogEntry.body).where(
                LogEntry.origin == origin, LogEntry.seq == state.seq, LogEntry.type == "tombstone"
            )
        )
    try:
        body = canonical.decode(raw) if raw is not None else None
    except ValueError:
        return None
    forward = body.get("forward") if isinstance(body, dict) and body.get("reason") == "moved" else None
    return forward if isinstance(forward, str) else None


# ------------------------------------------------------------------------------------------------ helpers


async def _incoming_move(session: AsyncSession, origin: str, move_id: str) -> MemberMove:
    move = await session.scalar(
        select(MemberMove)
        .where(MemberMove.direction == "in", MemberMove.origin == origin, MemberMove.move_id == move_id)
        .with_for_update()
    )
    if move is None:
        raise NotFound(f"no move {origin}/{move_id}")
    if move.status != "pending":
        raise Conflict(f"move {origin}/{move_id} is {move.status} already")
    return move


def _operator(viewer: Viewer, action: str) -> None:
    if viewer.anonymous:
        raise NotAuthenticated("log in first")
    if not viewer.is_operator:
        log.warning("refused: account %s may not %s (operators only)", viewer.account_id, action)
        raise Forbidden(f"only operators {action}")


def _record_types(data: dict[str, Any]) -> dict[str, str]:
    """The origin's record ids a move carries, with the record type each has (what its tombstone names)."""
    if "records" in data:  # a completed move keeps only this
        return dict(data["records"])
    types = {str(data["member"]): "profile"}
    for key, kind in MOVABLE:
        types.update({str(item["id"]): kind.record_type for item in data.get(key) or []})
    return types


def _request_body(payload: dict[str, Any], to_node: str) -> dict[str, Any]:
    """The ``member_move`` record of a move's portable data (the ``data`` document this node keeps)."""
    profile = payload["profile"]
    return fit(
        "member_move",
        {
            "to_node": to_node,
            "move": payload["move"],
            "member": payload["member"],
            "email": payload["email"],
            "display_name": payload["display_name"],
            "profile": profile["fields"],
            "visibility": profile["visibility"],
            "offers": [
                {"id": i["id"], "fields": i["data"], **({"visibility": i["visibility"]} if "visibility" in i else {})}
                for i in payload.get("offers") or []
            ],
            "mentoring": [{"id": i["id"], "fields": i["data"]} for i in payload.get("mentoring") or []],
        },
    )


def _payload_of(body: dict[str, Any], sender: str) -> dict[str, Any]:
    """The ``data`` document of a received ``member_move`` (the same shape the origin keeps)."""
    return {
        "v": FORMAT,
        "move": body["move"],
        "origin": sender,
        "member": body["member"],
        "email": body["email"],
        "display_name": body["display_name"],
        "profile": {"fields": dict(body.get("profile") or {}), "visibility": dict(body.get("visibility") or {})},
        "offers": [
            {"id": i["id"], "data": i["fields"], **({"visibility": i["visibility"]} if "visibility" in i else {})}
            for i in body.get("offers") or []
        ],
        "mentoring": [{"id": i["id"], "data": i["fields"]} for i in body.get("mentoring") or []],
    }


def _acceptance_body(move: MemberMove, mapping: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    """The ``member_move_acceptance`` of an incoming move: the profile first, then the other records by id."""
    member = data.get("member")
    pairs = sorted(mapping.items(), key=lambda pair: (pair[0] != member, pair[0]))
    return {
        "to_node": move.origin,
        "move": move.move_id,
        "member": move.new_member_id,
        "records": [{"old": old, "new": new} for old, new in pairs],
    }


def _legacy(packed: bytes | None) -> bool:
    """Whether a kept proof is the ``message`` parts that carried a move before release 1.1."""
    return any(e.header.type == "message" for e in unpack_envelopes(packed))


async def _require_peer(session: AsyncSession, sender: str, what: str) -> None:
    peer = await session.get(PeerRow, sender)
    if peer is None or peer.status != "member" or not peer.direct:
        raise RecordRefusedError(f"{what} from {sender} refused: not a direct member peer of this node")


def _check_acceptance(new_member: str, mapping: dict[str, str], member_id: str, types: dict[str, str]) -> str | None:
    if mapping.get(member_id) != new_member:
        return "the member's profile is not mapped to the new member"
    unknown = set(mapping) - set(types)
    if unknown:
        return f"it maps records that were not sent: {sorted(unknown)[:5]}"
    return None


def pack_envelopes(envelopes: list[bytes]) -> bytes:
    """The signed envelopes of one move record, as one column value (canonical msgpack list)."""
    return canonical.encode(envelopes, canonical.Limits(max_bin=MAX_DIRECT_ENVELOPE_BYTES))


def unpack_envelopes(packed: bytes | None) -> list[Entry]:
    if not packed:
        return []
    value = canonical.decode(packed, canonical.Limits(max_bin=MAX_DIRECT_ENVELOPE_BYTES))
    assert isinstance(value, list)
    return [decode_entry(blob, max_bytes=MAX_DIRECT_ENVELOPE_BYTES) for blob in value if isinstance(blob, bytes)]


def erase_bodies(packed: bytes) -> bytes:
    """The same envelopes without their bodies: the signed headers (which hold the bodies' hashes) still prove
    what was sent, while the member's data no longer lies in this table (the pattern of the design's erasure)."""
    return pack_envelopes([e.erased().encode() for e in unpack_envelopes(packed)])


def _view(move: MemberMove, *, detailed: bool = False) -> dict[str, Any]:
    data = move.data or {}
    view: dict[str, Any] = {
        "origin": move.origin,
        "id": move.move_id,
        "direction": move.direction,
        "to_node": move.to_node,
        "status": move.status,
        "member": move.member_id,
        "new_member": move.new_member_id,
        "display_name": move.display_name,
        "records": dict(move.mapping or {}),
        "requested_at": move.requested_at,
        "accepted_at": move.accepted_at,
        "done_at": move.done_at,
        "signed": {
            "request": [_signed(e) for e in unpack_envelopes(move.request)],
            "acceptance": [_signed(e) for e in unpack_envelopes(move.acceptance)],
        },
    }
    if detailed and move.status == "pending":  # what the operator decides on
        view["email"] = data.get("email")
        view["profile_fields"] = sorted((data.get("profile") or {}).get("fields") or {})
        view["offers"] = [i["data"].get("title") for i in data.get("offers") or []]
        view["mentoring"] = len(data.get("mentoring") or [])
    return view


def _signed(entry: Entry) -> dict[str, Any]:
    """One signed envelope as people can check it: who signed, with which key, its hash."""
    h = entry.header
    return {"origin": h.origin, "id": h.id, "kid": h.kid, "hash": entry.hash.hex(), "body_kept": entry.body is not None}


def _portable(profile: MemberProfile, name: str) -> bool:
    """A field moves with the member unless it is private (the phone never leaves the node in any case)."""
    level = profile.visibility.get(name, PROFILE_FIELDS[name].default)
    return level != "private" and name != "phone"
