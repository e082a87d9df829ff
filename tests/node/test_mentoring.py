"""Mentoring programmes, the schools' form and student projects (issue 16), on one node and between two (the
direct records handed from one node's outbox to the other's inbox, as the federation would after verifying them).
The real multi-node flow is in tests/e2e/test_mentoring.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from federation.errors import RecordRefusedError
from node.clock import ManualClock
from node.compose import Node, NodeOptions, open_node
from node.config import create_node_dir
from node.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts
from node.services.schools import MIN_FILL_MS
from node.storage.federation_models import InboxMessage
from node.storage.mentoring_models import MentoringCheckin, MentoringPair
from node.storage.models import OutboxItem, RecordState
from node.viewer import Viewer
from protocol import MAX_DIRECT_ENVELOPE_BYTES, Record, check_body, decode_entry
from protocol.records import sign_direct

from .conftest import PASSWORD, receive
from .test_onboarding import peer_with, staff

DAY = 86_400_000
PROGRAMME = {"name": "Chillies 2027", "cohort_start": "2027-01-04", "cohort_end": "2027-06-30"}


@pytest.fixture
async def other(tmp_path: Path, options: NodeOptions) -> AsyncIterator[Node]:
    config = create_node_dir(tmp_path / "smart", name="smart", url="http://127.0.0.1:8402", display_name="SMart")
    s = await open_node(config, options)
    try:
        yield s
    finally:
        await s.close()


async def member(s: Node, email: str) -> Viewer:
    await s.accounts.add_user(email=email, display_name=email.split("@")[0], role="member", password=PASSWORD)
    viewer = await s.accounts.authenticate((await s.accounts.login(email, PASSWORD, "test")).token)
    assert viewer is not None and viewer.member_id is not None
    return viewer


async def drain(s: Node, to: str) -> list[Record]:
    async with s.db.write() as session:
        rows = list(await session.scalars(select(OutboxItem).where(OutboxItem.peer == to).order_by(OutboxItem.id)))
        await session.execute(delete(OutboxItem).where(OutboxItem.peer == to))
    out = []
    for row in rows:
        if row.kind != "direct" or row.payload is None:
            continue
        entry = decode_entry(row.payload, max_bytes=MAX_DIRECT_ENVELOPE_BYTES)
        out.append(Record(entry, check_body(entry)))
    return out


async def deliver(records: list[Record], to: Node) -> list[bool]:
    return [await to.federation.inbox.deliver(r, to.clock()) for r in records]


# ------------------------------------------------------------------------------------------------ programmes


async def test_only_staff_run_programmes_and_mentees_must_fit_its_rules(services: Node, clock: ManualClock) -> None:
    m = services.mentorships
    coordinator = await staff(services, "conseil@coopaname.example")
    newcomer = await member(services, "nouvelle@coopaname.example")
    with pytest.raises(Forbidden):
        await m.create_programme(newcomer, PROGRAMME)
    with pytest.raises(InvalidInput) as bad:
        await m.create_programme(coordinator, {**PROGRAMME, "cohort_end": "2026-01-01"})
    assert "cohort_end" in bad.value.fields
    programme = await m.create_programme(coordinator, {**PROGRAMME, "mentees": ["first_year", "under_30"]})
    assert programme["coordinator"] and programme["mentees"] == ["first_year", "under_30"]
    clock.advance(400 * DAY)  # the newcomer is in their second year now
    with pytest.raises(Forbidden) as refused:
        await m.join(newcomer, "coopaname", programme["id"], {"role": "mentee"})
    assert "first year" in refused.value.message
    joined = await m.join(newcomer, "coopaname", programme["id"], {"role": "mentee", "under_30": True})
    assert joined["kind"] == "request" and joined["programme"] == f"coopaname/{programme['id']}"
    with pytest.raises(Conflict):
        await m.join(newcomer, "coopaname", programme["id"], {"role": "mentee", "under_30": True})
    first_year = await member(services, "arrivee@coopaname.example")
    assert (await m.join(first_year, "coopaname", programme["id"], {"role": "mentee"}))["kind"] == "request"
    view = await m.programme(coordinator, "coopaname", programme["id"])
    assert len(view["applicants"]) == 2 and view["mentees"] == ["first_year", "under_30"]
    assert view["figures"]["pairs_active"] == 0
    assert "figures" not in await m.programme(newcomer, "coopaname", programme["id"])


async def test_a_pair_between_two_nodes_and_who_may_send_what(services: Node, other: Node) -> None:
    await peer_with(services, other)
    await peer_with(other, services)
    coordinator = await staff(services, "conseil@coopaname.example")
    mentor = await member(services, "mentor@coopaname.example")
    programme = await services.mentorships.create_programme(coordinator, PROGRAMME)
    offer = await services.mentorships.join(mentor, "coopaname", programme["id"], {"role": "mentor", "capacity": 1})
    # the mentee of SMart: their node holds the programme as replication would bring it, and so does ours theirs
    mentee = await member(other, "mentee@smart.example")
    await _replicate(services, other)
    request = await other.mentorships.join(mentee, "coopaname", programme["id"], {"role": "mentee"})
    await _replicate(other, services)
    suggestions = await services.mentorships.suggestions(coordinator, programme["id"])
    assert [(s["mentor"]["id"], s["mentee"]["id"]) for s in suggestions] == [(offer["id"], request["id"])]
    pair = await services.mentorships.propose(
        coordinator,
        {
            "programme": programme["id"],
            "mentor": {"origin": "coopaname", "id": offer["id"]},
            "mentee": {"origin": "smart", "id": request["id"]},
        },
    )
    assert await services.mentorships.suggestions(coordinator, programme["id"]) == []  # paired, and no room
    with pytest.raises(Conflict):
        await services.mentorships.propose(
            coordinator,
            {
                "programme": programme["id"],
                "mentor": {"origin": "coopaname", "id": offer["id"]},
                "mentee": {"origin": "smart", "id": request["id"]},
            },
        )
    sent = await drain(services, "smart")
    assert [r.type for r in sent] == ["mentoring_pair"]
    assert await deliver(sent, other) == [True]
    assert await deliver(sent, other) == [False]  # the same snapshot again changes nothing
    # a snapshot from a node that does not coordinate the pair is refused
    forged = sign_direct(
        other.key,
        type="mentoring_pair",
        origin="smart",
        id="f-1",
        now=other.clock(),
        body={**sent[0].body},  # type: ignore[dict-item]
    )
    with pytest.raises(RecordRefusedError):
        await services.federation.inbox.deliver(Record(forged, check_body(forged)), services.clock())

    await services.mentorships.answer(mentor, pair["id"], "accept")
    await other.mentorships.answer(mentee, pair["id"], "accept")
    answers = await drain(other, "coopaname")
    assert [r.type for r in answers] == ["mentoring_pair_answer"]
    assert await deliver(answers, services) == [True]
    assert (await services.mentorships.pair(mentor, pair["id"]))["status"] == "active"
    # two snapshots: after the mentor's acceptance, then the pair active; the newest wins either way
    assert await deliver(await drain(services, "smart"), other) == [True, True]
    assert (await other.mentorships.pair(mentee, pair["id"]))["status"] == "active"
    # an answer claiming to be the mentor, from the mentee's node, is refused
    lie = sign_direct(
        other.key,
        type="mentoring_pair_answer",
        origin="smart",
        id="lie-1",
        now=other.clock(),
        body={
            "to_node": "coopaname",
            "pair": pair["id"],
            "role": "mentor",
            "member": mentee.member_id,
            "action": "close",
            "at": other.clock(),
        },
    )
    with pytest.raises(RecordRefusedError):
        await services.federation.inbox.deliver(Record(lie, check_body(lie)), services.clock())

    # check-ins: the pair and the coordinator; not another member, not the other coop's advisor
    await other.mentorships.checkin(mentee, pair["id"], "2023-06-10", "Premier devis")
    assert await deliver(await drain(other, "coopaname"), services) == [True]
    assert [c["note"] for c in (await services.mentorships.pair(coordinator, pair["id"]))["checkins"]] == [
        "Premier devis"
    ]
    stranger = await member(services, "autre@coopaname.example")
    with pytest.raises(NotFound):
        await services.mentorships.pair(stranger, pair["id"])
    with pytest.raises(NotFound):
        await services.mentorships.checkin(stranger, pair["id"], "2023-06-10", "x")
    with pytest.raises(NotFound):
        await other.mentorships.pair(await staff(other, "conseil@smart.example"), pair["id"])
    with pytest.raises(InvalidInput):
        await services.mentorships.checkin(mentor, pair["id"], "2031-01-01", "in the future")


async def test_reminders_go_to_pairs_that_have_not_met(services: Node, clock: ManualClock) -> None:
    coordinator = await staff(services, "conseil@coopaname.example")
    mentor = await member(services, "mentor@coopaname.example")
    mentee = await member(services, "mentee@coopaname.example")
    m = services.mentorships
    programme = await m.create_programme(coordinator, PROGRAMME)
    offer = await m.join(mentor, "coopaname", programme["id"], {"role": "mentor"})
    request = await m.join(mentee, "coopaname", programme["id"], {"role": "mentee"})
    pair = await m.propose(
        coordinator,
        {
            "programme": programme["id"],
            "mentor": {"origin": "coopaname", "id": offer["id"]},
            "mentee": {"origin": "coopaname", "id": request["id"]},
        },
    )
    await m.answer(mentor, pair["id"], "accept")
    await m.answer(mentee, pair["id"], "accept")
    assert await m.remind_due() == 0
    clock.advance(31 * DAY)
    assert await m.remind_due() == 2
    assert await m.remind_due() == 0  # once per period
    async with services.db.read() as session:
        kinds = list(await session.scalars(select(InboxMessage.kind).where(InboxMessage.subject.like("%Reminder%"))))
    assert kinds == ["notice", "notice"]
    clock.advance(366 * DAY)  # a year on, the mentee is still a member
    figures = (await m.programme(coordinator, "coopaname", programme["id"]))["figures"]
    assert (figures["mentees_a_year_on"], figures["mentees_stayed_a_year"], figures["pairs_active"]) == (1, 1, 1)
    await services.directory.erase_account(mentee.account_id or 0)  # the mentee leaves the coop
    figures = (await m.programme(coordinator, "coopaname", programme["id"]))["figures"]
    assert (figures["mentees_a_year_on"], figures["mentees_stayed_a_year"]) == (1, 0)
    await m.answer(mentor, pair["id"], "close", "Merci !")
    pairs = await m.programme_pairs(coordinator, programme["id"])
    assert pairs[0]["status"] == "closed" and pairs[0]["feedback"] == {"mentor": "Merci !"}
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(MentoringCheckin)) == 0
        assert await session.scalar(select(func.count()).select_from(MentoringPair)) == 1


async def _replicate(source: Node, target: Node) -> None:
    """Bring ``source``'s programmes, mentoring records and profiles to ``target`` as replication would."""
    async with source.db.read() as session:
        rows = list(
            await session.scalars(
                select(RecordState)
                .where(RecordState.origin == source.config.name)
                .where(RecordState.type.in_(("mentoring_programme", "mentoring", "profile")))
            )
        )
    held = await target.federation_store.heads()
    async with target.db.read() as session:
        known = {
            r
            for (r,) in await session.execute(
                select(RecordState.record_id).where(RecordState.origin == source.config.name)
            )
        }
    for row in rows:
        if row.record_id not in known and row.body is not None:
            await receive(target, source.config.name, row.record_id, row.body, ts=row.ts, type=row.type)
    assert held is not None


# ---------------------------------------------------------------------------------------------- the schools


FORM = {
    "school": "École Jules-Ferry",
    "town": "Saint-Denis",
    "class_level": "CM2",
    "dates": "mai 2027",
    "topic": "la menuiserie",
    "contact_name": "M. Roux",
    "contact_email": "roux@ecole.example",
}


async def test_the_schools_form_refuses_robots_and_floods(services: Node, clock: ManualClock) -> None:
    schools = services.schools
    token = schools.challenge()
    with pytest.raises(InvalidInput) as quick:
        await schools.submit(FORM, token, "10.0.0.1")
    assert quick.value.fields == {"form": "quick"}
    clock.advance(MIN_FILL_MS)
    with pytest.raises(InvalidInput):
        await schools.submit({**FORM, "website": "x"}, token, "10.0.0.1")
    with pytest.raises(InvalidInput) as forged:
        await schools.submit(FORM, token[:-1] + ("0" if token[-1] != "0" else "1"), "10.0.0.1")
    assert forged.value.fields == {"form": "expired"}
    with pytest.raises(InvalidInput) as missing:
        await schools.submit({**FORM, "contact_email": "pas une adresse"}, token, "10.0.0.1")
    assert "contact_email" in missing.value.fields
    for _ in range(5):
        await schools.submit(FORM, token, "10.0.0.1")
    with pytest.raises(TooManyAttempts):
        await schools.submit(FORM, token, "10.0.0.1")
    await schools.submit(FORM, token, "10.0.0.2")  # another address still may
    clock.advance(3 * 3_600_000)
    with pytest.raises(InvalidInput) as late:
        await schools.submit(FORM, token, "10.0.0.3")
    assert late.value.fields == {"form": "expired"}
    coordinator = await staff(services, "conseil@coopaname.example")
    assert len(await schools.requests(coordinator)) == 6
    with pytest.raises(Forbidden):
        await schools.requests(await member(services, "m@coopaname.example"))


# ------------------------------------------------------------------------------------------ student projects


async def test_a_student_project_has_its_year_and_graduates_into_a_creation_case(services: Node) -> None:
    advisor = await staff(services, "conseil@coopaname.example")
    onboarding = services.onboarding
    case = await onboarding.create_case(
        advisor,
        {
            "title": "La Coop des étudiant·es",
            "origin_kind": "cae_collective",
            "target_form": "scic",
            "group": [{"name": "Inès"}, {"name": "Hugo"}],
            "student": {
                "university": "Université Paris 8",
                "tutor": "Mme Benali",
                "year_start": "2026-09-15",
                "year_end": "2027-06-30",
            },
        },
    )
    student = case["student"]
    assert student["tutor"] == "Mme Benali"
    assert [m["date"] for m in student["milestones"]][:2] == ["2026-09-15", "2026-11-15"]
    with pytest.raises(InvalidInput):
        await onboarding.create_case(
            advisor,
            {
                **{k: case[k] for k in ("title", "origin_kind", "target_form")},
                "student": {"university": "X", "year_start": "2027-01-01", "year_end": "2026-01-01"},
            },
        )
    snapshot = onboarding.snapshot(await _case_row(services, case["id"]), "smart")
    assert snapshot["student"]["university"] == "Université Paris 8"
    created = await onboarding.graduate(advisor, "coopaname", case["id"])
    assert created["origin_kind"] == "new_creation" and created["student"] is None
    assert [p["name"] for p in created["group"]] == ["Inès", "Hugo"]
    again = await onboarding.get_case(advisor, "coopaname", case["id"])
    assert again["student"]["graduated_to"] == created["id"]
    with pytest.raises(Conflict):
        await onboarding.graduate(advisor, "coopaname", case["id"])
    with pytest.raises(InvalidInput):
        await onboarding.graduate(advisor, "coopaname", created["id"])


async def _case_row(services: Node, case_id: str) -> Any:
    from node.storage.onboarding_models import OnboardingCase

    async with services.db.read() as session:
        return await session.scalar(select(OnboardingCase).where(OnboardingCase.case_id == case_id))


async def test_joining_shares_only_the_profile_fields_the_member_shows_the_network(services: Node) -> None:
    """The mentoring record goes to every coop: trades kept to the coop stay out of it (security)."""
    coordinator = await staff(services, "conseil@coopaname.example")
    programme = await services.mentorships.create_programme(coordinator, PROGRAMME)
    private = await member(services, "discrete@coopaname.example")
    await services.directory.update_my_profile(
        private,
        {"fields": {"trades": ["H2206"], "languages": ["fr", "es"]}, "visibility": {"trades": "coop"}},
        replace=False,
    )
    joined = await services.mentorships.join(private, "coopaname", programme["id"], {"role": "mentor"})
    assert "trades" not in joined and "languages" not in joined
    open_ = await member(services, "ouverte@coopaname.example")
    await services.directory.update_my_profile(
        open_,
        {
            "fields": {"trades": ["H2206"], "languages": ["fr"]},
            "visibility": {"trades": "network", "languages": "network"},
        },
        replace=False,
    )
    joined = await services.mentorships.join(open_, "coopaname", programme["id"], {"role": "mentor"})
    assert [t["rome"] for t in joined["trades"]] == ["H2206"] and joined["languages"] == ["fr"]


async def test_a_pair_snapshot_for_another_coops_programme_is_refused(services: Node, other: Node) -> None:
    await peer_with(services, other)
    mentee = await member(services, "mentee@coopaname.example")
    body = {
        "to_node": "coopaname",
        "pair": "p-forged",
        "programme": "oxalis/prog-1",  # not the sender's programme
        "programme_name": "Faux",
        "mentor": {"node": "smart", "member": "m-x", "name": "X", "answer": "pending"},
        "mentee": {"node": "coopaname", "member": mentee.member_id, "name": "Y", "answer": "pending"},
        "status": "proposed",
        "updated_at": other.clock(),
    }
    forged = sign_direct(other.key, type="mentoring_pair", origin="smart", id="f-2", now=other.clock(), body=body)
    with pytest.raises(RecordRefusedError):
        await services.federation.inbox.deliver(Record(forged, check_body(forged)), services.clock())
    honest = sign_direct(
        other.key,
        type="mentoring_pair",
        origin="smart",
        id="f-3",
        now=other.clock(),
        body={**body, "programme": "smart/prog-1"},
    )
    assert await services.federation.inbox.deliver(Record(honest, check_body(honest)), services.clock()) is True


def test_the_refusals_read_as_sentences_on_the_pages() -> None:
    from node.web.errors import explain
    from node.web.i18n import lang_for

    fr = lang_for("fr", "Europe/Paris")
    assert explain(Conflict("you already joined this programme as mentee"), fr).summary == (
        "Vous participez déjà à ce programme."
    )
    assert explain(Forbidden("this programme's mentees are members in their first year"), fr).summary.startswith(
        "Ce programme s'adresse"
    )
    refused = explain(InvalidInput.field("date", "a meeting cannot be in the future"), fr)
    assert refused.fields == {"date": "Une rencontre ne peut pas être dans le futur."}
