"""Onboarding cases (Manucoop): advisors follow a group of people from the first idea to a registered coop.

Who may do what:

* only advisors and operators of this node see and edit cases; members are refused (403);
* a node holds its own cases and the cases other coops shared with it, nothing else, so an advisor sees the
  cases of their coop and those shared with their coop; a case of another coop not shared with us is simply
  not here (404);
* only the coop that opened a case (its *origin*) shares it, stops sharing it, changes its retention date or
  builds the new coop's bootstrap bundle; advisors of every coop it is shared with edit its content.

Sharing: every change is sent, as a ``case_share`` direct record (a signed snapshot of the whole case), to the
coops that must see it and to them only — from the origin to each coop it is shared with, from another coop back
to the origin, which passes the change on. The receiving node keeps the newest snapshot (by edit time, then node
name): see :meth:`Onboarding.receive_share`. When the origin stops sharing a case with a coop, that coop gets a
``case_withdrawal`` and deletes its copy. The outbox rows are written in the same transaction as the change, so
a change is never lost nor sent twice; a snapshot that does not fit a direct record refuses the change itself.

Every change extends the case's retention date (:data:`RETENTION_MS` after the last activity);
:meth:`Onboarding.purge_expired` deletes the cases past it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.errors import RecordRefusedError
from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from node.records.publisher import new_record_id
from node.reference.data import Reference
from node.services import onboarding_rules as rules
from node.services.direct import DirectSender, fit
from node.services.mail_text import N_
from node.services.notifications import Notifications
from node.storage.database import Database
from node.storage.federation_models import PeerRow
from node.storage.models import Account, RecordState
from node.storage.onboarding_models import OnboardingCase
from node.storage.outbox import direct_peer_names, require_direct_peer
from node.viewer import Viewer
from protocol import Record
from protocol.envelope import ORIGIN_RE

log = logging.getLogger(__name__)

RETENTION_MS: Final = 3 * 365 * 86_400_000  # three years after the last activity
#: the parts of a case's document that travel in a ``case_share`` (the rest are columns, or computed)
SHARED_DATA: Final = ("description", "trades", "group", "owners", "stages", "node", "student")
MAX_MENTORS: Final = 50


def require_staff(viewer: Viewer) -> Viewer:
    if viewer.anonymous:
        raise NotAuthenticated("log in first")
    if not viewer.is_staff:
        log.info("refused onboarding access to account %s: role %s", viewer.account_id, viewer.role)
        raise Forbidden("onboarding cases are for advisors and operators")
    return viewer


class Onboarding:
    """The onboarding cases of one node; ``direct`` sends the snapshots to the coops a case is shared with."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        clock: Clock,
        reference: Reference,
        direct: DirectSender,
        notifications: Notifications | None = None,
    ) -> None:
        self.notifications = notifications  # advisors are told when a shared case changes, as they chose
        self.db = db
        self.name = name
        self.clock = clock
        self.reference = reference
        self.direct = direct

    # ------------------------------------------------------------------------------------------- reading

    async def direct_peers(self) -> list[str]:
        """The coops a case can be shared with: the direct member peers of this node."""
        async with self.db.read() as session:
            return await direct_peer_names(session, self.name)

    async def list_cases(self, viewer: Viewer, *, stage: str | None = None) -> list[dict[str, Any]]:
        """Every case this node holds (own and shared with it), newest change first, as board cards."""
        require_staff(viewer)
        query = select(OnboardingCase).order_by(OnboardingCase.updated_at.desc(), OnboardingCase.id.desc())
        if stage is not None:
            query = query.where(OnboardingCase.stage == rules.check_stage(stage))
        async with self.db.read() as session:
            rows = (await session.execute(query.limit(1000))).scalars().all()
        return [self.card(row) for row in rows]

    async def get_case(self, viewer: Viewer, origin: str, case_id: str) -> dict[str, Any]:
        require_staff(viewer)
        async with self.db.read() as session:
            row = await self._row(session, origin, case_id)
            return self.view(row)

    def card(self, row: OnboardingCase) -> dict[str, Any]:
        done, total = rules.progress(row.data, row.stage)
        return {
            "origin": row.origin,
            "id": row.case_id,
            "ref": f"{row.origin}/{row.case_id}",
            "title": row.title,
            "stage": row.stage,
            "target_form": row.target_form,
            "origin_kind": row.origin_kind,
            "group_size": len(row.data.get("group", [])),
            "next_items": rules.next_items(row.data, row.stage),
            "progress": {"done": done, "total": total},
            "shared_with": list(row.shared_with),
            "own": row.origin == self.name,
            "updated_at": row.updated_at,
            "student": row.data.get("student"),
        }

    def view(self, row: OnboardingCase) -> dict[str, Any]:
        data = row.data
        return {
            **self.card(row),
            "description": data.get("description", ""),
            "trades": data.get("trades", []),
            "group": data.get("group", []),
            "owners": data.get("owners", []),
            "stages": {
                stage: {**rules.empty_stage(stage), **data.get("stages", {}).get(stage, {})} for stage in rules.STAGES
            },
            "node": data.get("node"),
            "legal_check": rules.legal_check(row.target_form, data.get("group", [])).to_json(),
            "created_at": row.created_at,
            "updated_by": row.updated_by,
            "retention_until": rules.iso_date(row.retention_until),
        }

    async def _row(self, session: AsyncSession, origin: str, case_id: str, *, lock: bool = False) -> OnboardingCase:
        query = select(OnboardingCase).where(OnboardingCase.origin == origin, OnboardingCase.case_id == case_id)
        row = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no onboarding case {origin}/{case_id} on this node")
        return row

    # ------------------------------------------------------------------------------------------- writing

    async def create_case(self, viewer: Viewer, payload: object) -> dict[str, Any]:
        require_staff(viewer)
        values = rules.check_case_input(payload, self.reference, creating=True)
        now = self.clock()
        async with self.db.write() as session:
            owner_ids = values.get("owners") or [viewer.account_id]
            owners = await self._owners(session, owner_ids)
            retention = values.get("retention_until")
            row = OnboardingCase(
                origin=self.name,
                case_id=new_record_id(),
                title=values["title"],
                stage=rules.STAGES[0],
                origin_kind=values["origin_kind"],
                target_form=values["target_form"],
                data=rules.new_case_data(values, owners, rules.iso_date(now)),
                shared_with=[],
                created_at=now,
                updated_at=now,
                updated_by=self.name,
                retention_until=rules.date_ms(retention) if retention else now + RETENTION_MS,
            )
            session.add(row)
            await session.flush()
            result = self.view(row)
        log.info("onboarding case %s/%s opened by account %s", self.name, row.case_id, viewer.account_id)
        return result

    async def update_case(self, viewer: Viewer, origin: str, case_id: str, payload: object) -> dict[str, Any]:
        """Change the case's fields (title, description, trades, group, owners, stage dates, retention)."""
        values = rules.check_case_input(payload, self.reference, creating=False)

        async def change(session: AsyncSession, row: OnboardingCase, data: dict[str, Any]) -> None:
            for column in ("title", "origin_kind", "target_form"):
                if column in values:
                    setattr(row, column, values[column])
            for name in ("description", "trades", "group"):
                if name in values:
                    data[name] = values[name]
            if "student" in values:  # a student project's frame; what it graduated to stays
                graduated = (data.get("student") or {}).get("graduated_to")
                data["student"] = {**values["student"], **({"graduated_to": graduated} if graduated else {})}
            if "owners" in values:
                others = [o for o in data.get("owners", []) if o.get("node") != self.name]
                data["owners"] = others + await self._owners(session, values["owners"])
            for stage, dates in values.get("stage_dates", {}).items():
                rules.stage_of(data, stage).update(dates)
            if "retention_until" in values:
                self._origin_only(row, "change the retention date")
                when = values["retention_until"]
                row.retention_until = rules.date_ms(when) if when else self.clock() + RETENTION_MS

        return await self._change(viewer, origin, case_id, change)

    async def move_stage(self, viewer: Viewer, origin: str, case_id: str, stage: object) -> dict[str, Any]:
        """Move the case to another stage; past the legal form only when the legal check finds no problem."""
        target = rules.check_stage(stage)

        async def change(_session: AsyncSession, row: OnboardingCase, data: dict[str, Any]) -> None:
            old, new = rules.STAGES.index(row.stage), rules.STAGES.index(target)
            if new >= rules.LEGAL_GATE > old or (new >= rules.LEGAL_GATE and old >= rules.LEGAL_GATE and new > old):
                check = rules.legal_check(row.target_form, data.get("group", []))
                if not check.ok:
                    raise InvalidInput(
                        f"the group does not meet the {row.target_form} rules yet: " + ", ".join(check.problems),
                        {"stage": ", ".join(check.problems)},
                    )
            today = rules.iso_date(self.clock())
            if new > old:
                for passed in rules.STAGES[old:new]:
                    part = rules.stage_of(data, passed)
                    part["done"] = part.get("done") or today
            part = rules.stage_of(data, target)
            part["started"] = part.get("started") or today
            if new < old:
                part["done"] = None
            row.stage = target

        return await self._change(viewer, origin, case_id, change)

    async def toggle_item(self, viewer: Viewer, origin: str, case_id: str, payload: object) -> dict[str, Any]:
        """``{stage, key, done?}`` ticks (or unticks) a checklist item; ``{stage, label}`` adds one."""
        if not isinstance(payload, dict):
            raise InvalidInput.field("body", "expected {stage, key, done} or {stage, label}")
        stage = rules.check_stage(payload.get("stage"))
        label = rules.text(payload.get("label"), "label", 200) if payload.get("label") is not None else ""
        key = payload.get("key")
        done = payload.get("done")
        if done is not None and not isinstance(done, bool):
            raise InvalidInput.field("done", "must be true or false")
        if not label and not isinstance(key, str):
            raise InvalidInput.field("key", "give the item's key, or a label for a new item")

        async def change(_session: AsyncSession, _row: OnboardingCase, data: dict[str, Any]) -> None:
            items: list[dict[str, Any]] = rules.stage_of(data, stage)["checklist"]
            if label:
                if len(items) >= rules.MAX_ITEMS:
                    raise InvalidInput.field("label", "this stage's checklist is full")
                items.append({"key": f"c-{new_record_id()[:8]}", "label": label, "done": bool(done)})
                return
            item = next((i for i in items if i.get("key") == key), None)
            if item is None:
                raise NotFound(f"no checklist item {key!r} at stage {stage}")
            item["done"] = (not item.get("done")) if done is None else done

        return await self._change(viewer, origin, case_id, change)

    async def add_entry(self, viewer: Viewer, origin: str, case_id: str, kind: str, payload: object) -> dict[str, Any]:
        """Add a note (``{stage, text}``), a document (``{stage, name, ref}``) or a decision
        (``{stage, text, date, who}``) to a stage."""
        if kind not in ("notes", "documents", "decisions") or not isinstance(payload, dict):
            raise InvalidInput.field("body", "expected a JSON object")
        stage = rules.check_stage(payload.get("stage"))
        entry: dict[str, Any] = {"id": new_record_id()[:10], "at": self.clock(), "by": _author(viewer, self.name)}
        if kind == "notes":
            entry["text"] = rules.text(payload.get("text"), "text", rules.MAX_TEXT, required=True)
        elif kind == "documents":
            entry["name"] = rules.text(payload.get("name"), "name", 200, required=True)
            entry["ref"] = rules.text(payload.get("ref"), "ref", 500, required=True)
        else:
            entry["text"] = rules.text(payload.get("text"), "text", 2000, required=True)
            entry["date"] = rules.check_date(payload.get("date"), "date") or rules.iso_date(self.clock())
            entry["who"] = rules.text(payload.get("who"), "who", 200)

        async def change(_session: AsyncSession, _row: OnboardingCase, data: dict[str, Any]) -> None:
            entries: list[dict[str, Any]] = rules.stage_of(data, stage)[kind]
            if len(entries) >= rules.MAX_ITEMS:
                raise InvalidInput.field(kind, f"at most {rules.MAX_ITEMS} per stage")
            entries.append(entry)

        return await self._change(viewer, origin, case_id, change)

    async def share(self, viewer: Viewer, origin: str, case_id: str, coop: object) -> dict[str, Any]:
        """Share the case with the advisors of another coop (a direct member peer of this node)."""
        if not isinstance(coop, str) or ORIGIN_RE.match(coop) is None or coop == self.name:
            raise InvalidInput.field("coop", "the name of another coop's node")

        async def change(session: AsyncSession, row: OnboardingCase, _data: dict[str, Any]) -> None:
            self._origin_only(row, "share it")
            await require_direct_peer(session, coop)
            if coop not in row.shared_with:
                row.shared_with = [*row.shared_with, coop]

        result = await self._change(viewer, origin, case_id, change)
        log.info("onboarding case %s/%s shared with %s by account %s", origin, case_id, coop, viewer.account_id)
        return result

    async def unshare(self, viewer: Viewer, origin: str, case_id: str, coop: str) -> dict[str, Any]:
        """Stop sharing: the other coop receives a ``case_withdrawal`` and deletes its copy."""

        async def change(_session: AsyncSession, row: OnboardingCase, _data: dict[str, Any]) -> list[str]:
            self._origin_only(row, "stop sharing it")
            if coop not in row.shared_with:
                raise NotFound(f"the case is not shared with {coop}")
            row.shared_with = [c for c in row.shared_with if c != coop]
            return [coop]

        return await self._change(viewer, origin, case_id, change)

    async def record_node(self, origin: str, case_id: str, node: Mapping[str, Any]) -> None:
        """Note on the case the node prepared for the new coop (by :mod:`node.services.onboarding_bundle`)."""

        async def change(_session: AsyncSession, _row: OnboardingCase, data: dict[str, Any]) -> None:
            data["node"] = dict(node)

        await self._change(None, origin, case_id, change)

    def _origin_only(self, row: OnboardingCase, what: str) -> None:
        if row.origin != self.name:
            raise Forbidden(f"only {row.origin}, which opened this case, may {what}")

    async def _change(
        self,
        viewer: Viewer | None,
        origin: str,
        case_id: str,
        change: Callable[[AsyncSession, OnboardingCase, dict[str, Any]], Any],
    ) -> dict[str, Any]:
        """One edit: lock the row, apply ``change`` to a copy of the document, stamp it, queue the snapshots.

        ``change`` may return coops the case is withdrawn from (each gets a ``case_withdrawal``).
        ``viewer`` None is the node itself (already authorised by the caller).
        """
        if viewer is not None:
            require_staff(viewer)
        now = self.clock()
        async with self.db.write() as session:
            row = await self._row(session, origin, case_id, lock=True)
            data = copy.deepcopy(row.data)
            extra = await change(session, row, data)
            row.data = data  # a new object: SQLAlchemy does not see changes inside a JSON value
            row.updated_at = max(now, row.updated_at + 1)
            row.updated_by = self.name
            if row.origin == self.name:
                row.retention_until = max(row.retention_until, now + RETENTION_MS)
            targets = list(row.shared_with) if row.origin == self.name else [row.origin]
            sent = await self._queue(session, row, targets)
            if viewer is not None and self.notifications is not None:  # the coop's other advisors hear of it
                await self.notifications.notify_role(
                    session,
                    "advisor",
                    "case",
                    N_("The onboarding case “%(title)s” was updated by %(who)s"),
                    {"title": row.title, "who": viewer.email or str(viewer.account_id)},
                    f"/advisor/cases/{row.origin}/{row.case_id}",
                    once=f"case:{row.origin}/{row.case_id}/{row.updated_at}",
                    besides=viewer.account_id,
                )
            for coop in extra or []:
                sent += await self._withdraw(session, row, coop)
            result = self.view(row)
        if sent:
            self.direct.wake()
        return result

    async def graduate(self, viewer: Viewer, origin: str, case_id: str) -> dict[str, Any]:
        """A student project becomes a real creation case (issue 16): a new case of this coop with the project's
        title, description, trades and group, at the first stage; the student case names it (``graduated_to``)."""
        require_staff(viewer)
        async with self.db.read() as session:
            row = await self._row(session, origin, case_id)
            self._origin_only(row, "graduate this project")
            student = row.data.get("student")
            if not student:
                raise InvalidInput.field("student", "this case is not a student project")
            if student.get("graduated_to"):
                raise Conflict(f"this project already became case {student['graduated_to']}")
            source = self.view(row)
        created = await self.create_case(
            viewer,
            {
                "title": source["title"],
                "description": source["description"],
                "trades": [t["rome"] for t in source["trades"] if t.get("rome")],
                "group": source["group"],
                "origin_kind": "new_creation",
                "target_form": source["target_form"],
            },
        )

        async def change(_session: AsyncSession, _row: OnboardingCase, data: dict[str, Any]) -> None:
            data["student"] = {**data["student"], "graduated_to": created["id"]}

        await self._change(viewer, origin, case_id, change)
        log.info("student project %s/%s became case %s", origin, case_id, created["id"])
        return created

    # ------------------------------------------------------------------------------------------- sharing

    def snapshot(self, row: OnboardingCase, to_node: str) -> dict[str, Any]:
        """The ``case_share`` body of a case for ``to_node``: what the schema names, nothing else."""
        return fit(
            "case_share",
            {
                "to_node": to_node,
                "case_origin": row.origin,
                "case_id": row.case_id,
                "title": row.title,
                "stage": row.stage,
                "origin_kind": row.origin_kind,
                "target_form": row.target_form,
                **{k: row.data.get(k) for k in SHARED_DATA},
                "shared_with": list(row.shared_with),
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "updated_by": row.updated_by,
                "retention_until": row.retention_until,
            },
        )

    async def _queue(self, session: AsyncSession, row: OnboardingCase, targets: Sequence[str]) -> int:
        """Queue the row's snapshot for each target node that is a direct member peer; returns how many."""
        sent = 0
        for node in dict.fromkeys(t for t in targets if t != self.name):
            if not await _is_direct_peer(session, node):
                log.warning(
                    "onboarding case %s/%s not sent to %s: not a direct member peer", row.origin, row.case_id, node
                )
                continue
            entry = await self.direct.queue(session, "case_share", self.snapshot(row, node))
            sent += 1
            log.info(
                "onboarding case %s/%s queued for %s (%d bytes)", row.origin, row.case_id, node, len(entry.body or b"")
            )
        return sent

    async def _withdraw(self, session: AsyncSession, row: OnboardingCase, coop: str) -> int:
        """Tell ``coop`` the case is no longer shared with it (it deletes its copy); 1 when queued."""
        if not await _is_direct_peer(session, coop):
            log.warning(
                "onboarding case %s/%s: withdrawal not sent to %s: not a direct member peer",
                row.origin,
                row.case_id,
                coop,
            )
            return 0
        await self.direct.queue(session, "case_withdrawal", {"to_node": coop, "case_id": row.case_id})
        log.info("onboarding case %s/%s withdrawn from %s", row.origin, row.case_id, coop)
        return 1

    async def receive_share(self, record: Record) -> bool:
        """Take in a ``case_share`` another coop sent; True when this node's state changed."""
        body: dict[str, Any] = dict(record.body or {})
        snapshot: dict[str, Any] = {
            "origin": body["case_origin"],
            "case": body["case_id"],
            **{k: body[k] for k in ("title", "stage", "origin_kind", "target_form")},
            "data": {k: copy.deepcopy(body[k]) for k in SHARED_DATA if k in body},
            "shared_with": list(body.get("shared_with") or []),
            **{k: body[k] for k in ("created_at", "updated_at", "updated_by", "retention_until")},
        }
        async with self.db.write() as session:
            changed, forward = await self._apply(session, record.origin, snapshot)
            if changed and self.notifications is not None:
                await self.notifications.notify_role(
                    session,
                    "advisor",
                    "case",
                    N_("The onboarding case “%(title)s” was updated by %(coop)s"),
                    {"title": str(snapshot["title"]), "coop": record.origin},
                    f"/advisor/cases/{snapshot['origin']}/{snapshot['case']}",
                    once=f"case:{snapshot['origin']}/{snapshot['case']}/{snapshot['updated_at']}",
                )
            if forward:
                row = await self._row(session, snapshot["origin"], snapshot["case"])
                await self._queue(session, row, forward)
        if forward:
            self.direct.wake()
        return changed

    async def receive_withdrawal(self, record: Record) -> bool:
        """Take in a ``case_withdrawal``: the coop that opened the case stopped sharing it with us."""
        case_id = str((record.body or {})["case_id"])
        async with self.db.write() as session:
            query = select(OnboardingCase).where(
                OnboardingCase.origin == record.origin, OnboardingCase.case_id == case_id
            )
            row = (await session.execute(query.with_for_update())).scalar_one_or_none()
            if row is None:
                return False
            await session.delete(row)
        log.info("onboarding case %s/%s no longer shared with us: copy deleted", record.origin, case_id)
        return True

    async def _apply(self, session: AsyncSession, sender: str, snap: dict[str, Any]) -> tuple[bool, list[str]]:
        """Store a checked snapshot if ``sender`` may send it and it is newer. Returns (changed, forward to)."""
        origin, case_id = snap["origin"], snap["case"]
        query = select(OnboardingCase).where(OnboardingCase.origin == origin, OnboardingCase.case_id == case_id)
        row = (await session.execute(query.with_for_update())).scalar_one_or_none()
        if origin == self.name:  # our own case, edited by a coop we share it with
            if row is None or sender not in row.shared_with:
                raise RecordRefusedError(f"case {origin}/{case_id} is not shared with {sender}: its edit is refused")
        elif sender != origin:
            raise RecordRefusedError(f"case {origin}/{case_id} comes from {origin} only, not from {sender}")
        elif self.name not in snap["shared_with"]:  # the origin stopped sharing it with us
            if row is not None:
                await session.delete(row)
                log.info("onboarding case %s/%s no longer shared with us: copy deleted", origin, case_id)
                return True, []
            return False, []
        newer = row is None or (snap["updated_at"], snap["updated_by"]) > (row.updated_at, row.updated_by)
        if not newer:
            return False, []
        if row is None:
            row = OnboardingCase(origin=origin, case_id=case_id, created_at=snap["created_at"])
            session.add(row)
        for column in ("title", "stage", "origin_kind", "target_form", "updated_at", "updated_by"):
            setattr(row, column, snap[column])
        row.data = snap["data"]
        if origin != self.name:  # the origin decides who sees the case and how long it is kept
            row.shared_with = snap["shared_with"]
            row.retention_until = snap["retention_until"]
            forward: list[str] = []
        else:
            forward = [c for c in row.shared_with if c != sender]
        log.info("onboarding case %s/%s updated from %s", origin, case_id, sender)
        return True, forward

    # ------------------------------------------------------------------------------------------- mentors

    async def find_mentors(self, viewer: Viewer, trades: object) -> list[dict[str, Any]]:
        """Members of every coop who share a profile with the network and practise one of ``trades`` (ROME
        codes), those offering mentoring first, then established ones."""
        require_staff(viewer)
        codes = [
            t["rome"] for t in rules.check_case_input({"trades": trades}, self.reference, creating=False)["trades"]
        ]
        if not codes:
            raise InvalidInput.field("trades", "give at least one ROME code")
        text = cast(RecordState.body, String)
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(RecordState.origin, RecordState.record_id, RecordState.type, RecordState.body)
                    .where(
                        RecordState.type.in_(("profile", "mentoring")),
                        RecordState.deleted.is_(False),
                        or_(*(text.contains(f'"{code}"') for code in codes)),
                    )
                    .limit(2000)
                )
            ).all()
        mentoring: set[tuple[str, str]] = set()
        profiles: list[dict[str, Any]] = []
        for origin, record_id, kind, body in rows:
            body = body or {}
            matching = [t for t in body.get("trades", []) if isinstance(t, dict) and t.get("rome") in codes]
            if not matching:
                continue
            if kind == "mentoring":
                if body.get("kind") == "offer" and body.get("status") == "open":
                    mentoring.add((origin, str(body.get("member"))))
                continue
            place = body.get("place")
            profiles.append(
                {
                    "origin": origin,
                    "id": record_id,
                    "display_name": body.get("display_name") or record_id,
                    "trades": matching,
                    "town": place.get("town") if isinstance(place, dict) else None,
                    "stage": body.get("stage"),
                }
            )
        for p in profiles:
            p["mentoring_offer"] = (p["origin"], p["id"]) in mentoring
        profiles.sort(key=lambda p: (not p["mentoring_offer"], p["stage"] != "established", p["display_name"]))
        return profiles[:MAX_MENTORS]

    # ------------------------------------------------------------------------------------------- retention

    async def purge_expired(self) -> int:
        """Delete the cases whose retention date has passed (own and shared copies). Returns how many."""
        now = self.clock()
        async with self.db.write() as session:
            result = await session.execute(delete(OnboardingCase).where(OnboardingCase.retention_until < now))
            count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            log.info("onboarding: %d cases past their retention date deleted", count)
        return count

    async def _owners(self, session: AsyncSession, account_ids: Sequence[int | None]) -> list[dict[str, Any]]:
        ids = [i for i in account_ids if i is not None]
        rows = (
            await session.execute(select(Account.id, Account.display_name, Account.role).where(Account.id.in_(ids)))
        ).all()
        found = {aid: (name, role) for aid, name, role in rows}
        bad = [i for i in ids if i not in found or found[i][1] not in ("advisor", "operator")]
        if bad:
            raise InvalidInput.field("owners", f"not advisors or operators of this coop: {bad}")
        return [{"node": self.name, "account_id": i, "name": found[i][0]} for i in ids]


def _author(viewer: Viewer, node: str) -> dict[str, Any]:
    return {"node": node, "account_id": viewer.account_id}


async def _is_direct_peer(session: AsyncSession, node: str) -> bool:
    peer = await session.get(PeerRow, node)
    return peer is not None and peer.status == "member" and peer.direct
