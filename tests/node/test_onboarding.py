"""Onboarding cases: who may see and change them, stages and legal-form rules, sharing between two coops,
the bootstrap bundle, mentors from the federated directory, members' individual paths, retention.

Node A (``coopaname``) runs on the parametrised backend (SQLite and PostgreSQL); node B (``smart``), another
coop, always on SQLite: the snapshots travel between them as the typed direct records the outbox would deliver
(decoded from the outbox rows and handed to the receiving node's inbox by hand).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from federation.errors import RecordRefusedError
from federation.ports import Peer, PeerKey
from node.app import create_app
from node.clock import ManualClock
from node.compose import Node, NodeOptions, open_node
from node.config import NodeConfig, create_node_dir
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.federation_adapter.store import NodeFederationStore
from node.http.onboarding import ROUTES as ONBOARDING_ROUTES
from node.services import onboarding_rules as rules
from node.storage.models import OutboxItem
from node.storage.onboarding_models import OnboardingCase
from node.viewer import Viewer
from protocol import MAX_DIRECT_ENVELOPE_BYTES, MAX_ENVELOPE_BYTES, Record, SigningKey, check_body, decode_entry
from protocol.records import CASE_STAGES, sign_direct

from .conftest import PASSWORD, Api, Client

CASE = {"title": "Les Fourneaux solidaires", "origin_kind": "new_creation", "target_form": "scop", "trades": ["G1602"]}


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def other(tmp_path: Path, options: NodeOptions) -> AsyncIterator[Node]:
    """Node B: SMart, another coop, on SQLite."""
    config = create_node_dir(tmp_path / "smart", name="smart", url="http://127.0.0.1:8401", display_name="SMart")
    s = await open_node(config, options)
    try:
        yield s
    finally:
        await s.close()


async def peer_with(s: Node, other: Node) -> None:
    store = NodeFederationStore(s.db, s.config.name, s.clock, s.search_documents)
    await store.save_peer(
        Peer(
            name=other.config.name,
            url=other.config.url,
            display_name=other.config.display_name,
            keys=[PeerKey(other.key.public_bytes)],
        )
    )


async def staff(s: Node, email: str, role: str = "advisor") -> Viewer:
    account, _ = await s.accounts.add_user(email=email, role=role, password=PASSWORD)
    viewer = await s.accounts.authenticate((await s.accounts.login(email, PASSWORD, "test")).token)
    assert viewer is not None and viewer.account_id == account.id
    return viewer


async def drain(s: Node, to: str) -> list[Record]:
    """The shared-case records queued for node ``to``, as that node receives them (and empties the queue)."""
    async with s.db.write() as session:
        rows = (
            (await session.execute(select(OutboxItem).where(OutboxItem.peer == to).order_by(OutboxItem.id)))
            .scalars()
            .all()
        )
        await session.execute(delete(OutboxItem).where(OutboxItem.peer == to))
    records = []
    for row in rows:
        assert row.kind == "direct" and row.payload is not None
        entry = decode_entry(row.payload, max_bytes=MAX_DIRECT_ENVELOPE_BYTES)
        assert entry.header.seq == 1 and entry.header.prev is None  # a direct record, never part of a log
        records.append(Record(entry, check_body(entry)))
    return records


async def deliver(records: list[Record], to: Node) -> list[bool]:
    """Hand records to ``to``'s inbox, which routes them by type (as the federation does once it verified them)."""
    assert all(r.type in ("case_share", "case_withdrawal") for r in records)
    return [await to.federation.inbox.deliver(r, to.clock()) for r in records]


async def refusal(record: Record, to: Node) -> str:
    with pytest.raises(RecordRefusedError) as info:
        await to.federation.inbox.deliver(record, to.clock())
    return info.value.reason


# ------------------------------------------------------------------------------------------- authorisation


@pytest.mark.parametrize(
    ("role", "list_status", "create_status"),
    [(None, 401, 401), ("member", 403, 403), ("advisor", 200, 201), ("operator", 200, 201)],
)
async def test_only_advisors_and_operators_reach_cases(
    api: Api, role: str | None, list_status: int, create_status: int
) -> None:
    who = None if role is None else f"{role}@coopaname.example"
    if who is not None:
        await api.user(who, role=str(role))
    await api.call("GET", "/api/v1/onboarding/cases", who, expect=list_status)
    await api.call("POST", "/api/v1/onboarding/cases", who, json=CASE, expect=create_status)
    await api.user("conseil@coopaname.example", role="advisor")
    case = await api.call("POST", "/api/v1/onboarding/cases", "conseil@coopaname.example", json=CASE, expect=201)
    ref = f"/api/v1/onboarding/cases/{case['origin']}/{case['id']}"
    await api.call("GET", ref, who, expect=200 if create_status == 201 else list_status)
    await api.call("POST", ref + "/notes", who, json={"stage": "emergence", "text": "x"}, expect=create_status)


async def test_cases_are_in_the_openapi_document(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for route in ONBOARDING_ROUTES:
        assert route.method.lower() in doc["paths"][route.path], route.path


async def test_advisor_of_another_coop_sees_a_case_only_once_shared(services: Node, other: Node) -> None:
    await peer_with(services, other)
    await peer_with(other, services)
    a, b = services.onboarding, other.onboarding
    advisor_a, advisor_b = (
        await staff(services, "conseil@coopaname.example"),
        await staff(other, "conseil@smart.example"),
    )
    member_b = await staff(other, "membre@smart.example", role="member")
    case = await a.create_case(advisor_a, CASE)
    with pytest.raises(NotFound):
        await b.get_case(advisor_b, "coopaname", case["id"])
    assert await b.list_cases(advisor_b) == []

    shared = await a.share(advisor_a, "coopaname", case["id"], "smart")
    assert shared["shared_with"] == ["smart"]
    assert await deliver(await drain(services, "smart"), other) == [True]
    seen = await b.get_case(advisor_b, "coopaname", case["id"])
    assert seen["title"] == CASE["title"] and not seen["own"]
    with pytest.raises(Forbidden):
        await b.get_case(member_b, "coopaname", case["id"])
    with pytest.raises(Forbidden):  # only the coop that opened the case shares it
        await b.share(advisor_b, "coopaname", case["id"], "coopaname")

    # B's advisor edits: the change goes back to A only, and A keeps it.
    await b.add_entry(advisor_b, "coopaname", case["id"], "notes", {"stage": "emergence", "text": "Atelier fixé"})
    back = await drain(other, "coopaname")
    assert len(back) == 1 and back[0].body is not None and back[0].body["to_node"] == "coopaname"
    assert await deliver(back, services) == [True]
    assert await deliver(back, services) == [False]  # the same snapshot again changes nothing
    notes = (await a.get_case(advisor_a, "coopaname", case["id"]))["stages"]["emergence"]["notes"]
    assert [n["text"] for n in notes] == ["Atelier fixé"]
    assert await drain(services, "smart") == []  # nobody else to pass it to

    # An older snapshot loses against the newer one.
    await a.toggle_item(advisor_a, "coopaname", case["id"], {"stage": "emergence", "key": "group"})
    newer = await drain(services, "smart")
    await a.toggle_item(advisor_a, "coopaname", case["id"], {"stage": "emergence", "key": "idea"})
    newest = await drain(services, "smart")
    assert await deliver(newest, other) == [True]
    assert await deliver(newer, other) == [False]
    items = (await b.get_case(advisor_b, "coopaname", case["id"]))["stages"]["emergence"]["checklist"]
    assert [i["done"] for i in items] == [True, True, False]

    # Stop sharing: B gets a withdrawal, and its copy goes.
    await a.unshare(advisor_a, "coopaname", case["id"], "smart")
    [withdrawal] = await drain(services, "smart")
    assert withdrawal.type == "case_withdrawal" and withdrawal.body == {"to_node": "smart", "case_id": case["id"]}
    assert await deliver([withdrawal], other) == [True]
    assert await b.list_cases(advisor_b) == []
    assert await deliver([withdrawal], other) == [False]  # again: nothing left to delete


async def test_snapshots_from_the_wrong_node_are_refused(services: Node, other: Node) -> None:
    """Only the origin sends its case to others; the origin takes edits only from coops it shared with."""
    await peer_with(services, other)
    await peer_with(other, services)
    a, b = services.onboarding, other.onboarding
    advisor_a, advisor_b = (
        await staff(services, "conseil@coopaname.example"),
        await staff(other, "conseil@smart.example"),
    )
    own_b = await b.create_case(advisor_b, {**CASE, "title": "Cas de SMart"})
    mine = await a.create_case(advisor_a, CASE)
    await a.share(advisor_a, "coopaname", mine["id"], "smart")
    await drain(services, "smart")
    # B pretends to edit A's case, which A never shared... with a forged row on B
    async with other.db.write() as session:
        row = (await session.execute(select(OnboardingCase).where(OnboardingCase.case_id == own_b["id"]))).scalar_one()
        session.add(
            OnboardingCase(
                origin="coopaname",
                case_id="forged0000000000",
                title="x",
                stage="emergence",
                origin_kind="new_creation",
                target_form="scop",
                data=row.data,
                shared_with=["smart"],
                created_at=1,
                updated_at=1,
                updated_by="smart",
                retention_until=row.retention_until,
            )
        )
    await b.add_entry(advisor_b, "coopaname", "forged0000000000", "notes", {"stage": "emergence", "text": "x"})
    [edit] = await drain(other, "coopaname")
    assert "is not shared with smart" in await refusal(edit, services)
    with pytest.raises(NotFound):
        await a.get_case(advisor_a, "coopaname", "forged0000000000")
    # A snapshot of B's case relayed by a third node: refused; the genuine one from B is taken.
    await b.share(advisor_b, "smart", own_b["id"], "coopaname")
    genuine = await drain(other, "coopaname")
    async with other.db.read() as session:
        row = (await session.execute(select(OnboardingCase).where(OnboardingCase.case_id == own_b["id"]))).scalar_one()
        snapshot = b.snapshot(row, "coopaname")
    relayed = sign_direct(SigningKey.generate(), type="case_share", origin="oxalis", id="r-1", now=1, body=snapshot)
    assert "comes from smart only, not from oxalis" in await refusal(Record(relayed, check_body(relayed)), services)
    # a withdrawal from a coop that did not open the case deletes nothing
    withdrawal = sign_direct(
        SigningKey.generate(),
        type="case_withdrawal",
        origin="oxalis",
        id="w-1",
        now=1,
        body={"to_node": "coopaname", "case_id": own_b["id"]},
    )
    assert await deliver([Record(withdrawal, check_body(withdrawal))], services) == [False]
    assert await deliver(genuine, services) == [True]
    assert (await a.get_case(advisor_a, "smart", own_b["id"]))["title"] == "Cas de SMart"


async def test_a_large_case_travels_as_one_record(services: Node, other: Node) -> None:
    """A case larger than a log envelope may be is one direct record all the same."""
    await peer_with(services, other)
    a, b = services.onboarding, other.onboarding
    advisor_a, advisor_b = (
        await staff(services, "conseil@coopaname.example"),
        await staff(other, "conseil@smart.example"),
    )
    case = await a.create_case(advisor_a, {**CASE, "description": "é" * 3000})
    for i in range(14):
        await a.add_entry(
            advisor_a, "coopaname", case["id"], "notes", {"stage": "feasibility", "text": f"{i % 10}é" * 1900}
        )
    await a.share(advisor_a, "coopaname", case["id"], "smart")
    [snapshot] = await drain(services, "smart")
    assert len(snapshot.entry.encode()) > MAX_ENVELOPE_BYTES
    assert await deliver([snapshot], other) == [True]
    seen = await b.get_case(advisor_b, "coopaname", case["id"])
    assert seen["description"] == "é" * 3000 and len(seen["stages"]["feasibility"]["notes"]) == 14


async def test_a_case_too_large_to_share_refuses_the_change(services: Node, other: Node) -> None:
    """Over the direct-record limit (1 MiB) the share is refused whole, with a clear error; nothing is queued."""
    await peer_with(services, other)
    a = services.onboarding
    advisor = await staff(services, "conseil@coopaname.example")
    case = await a.create_case(advisor, CASE)
    note = {"id": "n", "at": 1, "by": {"node": "coopaname", "account_id": 1}, "text": "é" * 4000}
    async with services.db.write() as session:
        row = (await session.execute(select(OnboardingCase).where(OnboardingCase.case_id == case["id"]))).scalar_one()
        data = dict(row.data)
        data["stages"] = {stage: {"notes": [note] * 40} for stage in CASE_STAGES}  # 8 x 40 x 8 KB: 2.5 MB
        row.data = data
    with pytest.raises(InvalidInput, match="too large to send"):
        await a.share(advisor, "coopaname", case["id"], "smart")
    assert await drain(services, "smart") == []
    assert (await a.get_case(advisor, "coopaname", case["id"]))["shared_with"] == []


# ---------------------------------------------------------------------------------------- stages and rules


async def test_stages_checklists_and_the_scop_rule(api: Api) -> None:
    who = "conseil@coopaname.example"
    await api.user(who, role="advisor")
    case = await api.call("POST", "/api/v1/onboarding/cases", who, json=CASE, expect=201)
    ref = f"/api/v1/onboarding/cases/coopaname/{case['id']}"
    assert case["stage"] == "emergence" and case["next_items"][0]["key"] == "group"
    assert case["legal_check"] == {"ok": False, "problems": ["scop.min_associates"], "unchecked": []}
    await api.call("POST", ref + "/stage", who, json={"stage": "legal_form"}, expect=200)
    refused = await api.call("POST", ref + "/stage", who, json={"stage": "statutes"}, expect=422)
    assert "scop.min_associates" in refused["error"]["message"]
    group = [
        {"name": "Awa Diallo", "email": "awa@example.org", "role": "cuisinière", "associate": True, "employee": True},
        {"name": "Jules Martin", "role": "gérant", "associate": True, "employee": True, "capital_eur": 500},
        {"name": "Lina Roche", "role": "soutien", "associate": True, "employee": False, "capital_eur": 2000},
    ]
    updated = await api.call("PATCH", ref, who, json={"group": group}, expect=200)
    assert updated["legal_check"]["problems"] == []  # 2 of 3 votes employees (66 %): enough
    assert updated["legal_check"]["unchecked"] == ["scop.employee_capital"]
    group[0]["capital_eur"] = 100
    updated = await api.call("PATCH", ref, who, json={"group": group}, expect=200)
    assert updated["legal_check"]["problems"] == ["scop.employee_capital"]  # 600 of 2600
    group[2]["capital_eur"] = 300
    await api.call("PATCH", ref, who, json={"group": group}, expect=200)
    moved = await api.call("POST", ref + "/stage", who, json={"stage": "statutes"}, expect=200)
    assert moved["stage"] == "statutes"
    assert moved["stages"]["legal_form"]["done"] and moved["stages"]["statutes"]["started"]

    await api.call("POST", ref + "/checklist", who, json={"stage": "statutes", "key": "draft"}, expect=200)
    added = await api.call("POST", ref + "/checklist", who, json={"stage": "statutes", "label": "Relire"}, expect=200)
    assert [i.get("label") for i in added["stages"]["statutes"]["checklist"]][-1] == "Relire"
    assert added["next_items"][0]["key"] == "review"
    await api.call("POST", ref + "/checklist", who, json={"stage": "statutes", "key": "nope"}, expect=404)
    await api.call(
        "POST",
        ref + "/documents",
        who,
        json={"stage": "statutes", "name": "Projet", "ref": "https://x.example/s.pdf"},
        expect=201,
    )
    decided = await api.call(
        "POST",
        ref + "/decisions",
        who,
        json={"stage": "statutes", "text": "SARL Scop", "date": "2027-02-01", "who": "AG"},
        expect=201,
    )
    assert decided["stages"]["statutes"]["decisions"][0]["who"] == "AG"
    dated = await api.call(
        "PATCH", ref, who, json={"stage_dates": {"financing": {"planned": "2027-05-01"}}}, expect=200
    )
    assert dated["stages"]["financing"]["planned"] == "2027-05-01"
    bad = await api.call(
        "PATCH", ref, who, json={"title": "", "target_form": "sarl", "group": [{"email": "x"}]}, expect=422
    )
    assert set(bad["error"]["fields"]) >= {"title", "target_form", "group[0].name"}
    listed = await api.call("GET", "/api/v1/onboarding/cases?stage=statutes", who, expect=200)
    assert [c["id"] for c in listed["items"]] == [case["id"]]


@pytest.mark.parametrize(
    ("target", "group", "problems"),
    [
        ("scic", [{"associate": True, "stakeholder": "employee"}], ["scic.min_categories", "scic.beneficiaries"]),
        (
            "scic",
            [{"associate": True, "stakeholder": s} for s in ("beneficiary", "volunteer", "local_authority")],
            ["scic.employees_or_producers"],
        ),
        ("scic", [{"associate": True, "stakeholder": s} for s in ("producer", "beneficiary", "supporter")], []),
        (
            "scop",
            [{"associate": True, "employee": True}, {"associate": True, "employee": False}],
            ["scop.employee_votes"],
        ),
        ("cae_activity", [], []),
    ],
)
def test_legal_form_rules(target: str, group: list[dict[str, Any]], problems: list[str]) -> None:
    assert list(rules.legal_check(target, group).problems) == problems


# ------------------------------------------------------------------------------------------- bundle, mentors


async def test_bundle_from_the_registration_stage(services: Node, other: Node) -> None:
    await peer_with(services, other)
    a = services.onboarding
    advisor = await staff(services, "conseil@coopaname.example")
    case = await a.create_case(advisor, {**CASE, "target_form": "cae_activity"})
    with pytest.raises(Conflict):
        await services.bundles.build(case["id"], "fourneaux", "https://fourneaux.example", "Les Fourneaux")
    await a.move_stage(advisor, "coopaname", case["id"], "registration")
    with pytest.raises(InvalidInput):
        await services.bundles.build(case["id"], "Fourneaux!", "ftp://x", "")
    with pytest.raises(Conflict):
        await services.bundles.build(case["id"], "smart", "https://smart2.example", "SMart 2")
    bundle = await services.bundles.build(case["id"], "fourneaux", "https://fourneaux.example/", "Les Fourneaux")
    assert {k: bundle[k] for k in ("name", "url", "sponsor", "sponsor_url", "case")} == {
        "name": "fourneaux",
        "url": "https://fourneaux.example",
        "sponsor": "coopaname",
        "sponsor_url": services.config.url,
        "case": case["id"],
    }
    nodes = {n["name"]: n for n in bundle["network"]["nodes"]}
    assert set(nodes) == {"coopaname", "smart"}
    assert nodes["smart"]["public_key"] == other.key.public_bytes.hex()
    assert nodes["coopaname"]["public_key"] == services.key.public_bytes.hex()
    assert (await a.get_case(advisor, "coopaname", case["id"]))["node"]["name"] == "fourneaux"


async def test_mentors_from_the_federated_directory(api: Api) -> None:
    cook = await api.user("cook@coopaname.example")
    await api.user("conseil@coopaname.example", role="advisor")
    await api.call(
        "PATCH",
        "/api/v1/me/profile",
        "cook@coopaname.example",
        json={
            "fields": {"trades": ["G1602"], "stage": "established"},
            "visibility": {"trades": "network", "stage": "network", "display_name": "network"},
        },
        expect=200,
    )
    await api.call(
        "POST", "/api/v1/mentoring", "cook@coopaname.example", json={"kind": "offer", "trades": ["G1602"]}, expect=201
    )
    case = await api.call("POST", "/api/v1/onboarding/cases", "conseil@coopaname.example", json=CASE, expect=201)
    found = await api.call(
        "GET", f"/api/v1/onboarding/cases/coopaname/{case['id']}/mentors", "conseil@coopaname.example", expect=200
    )
    assert [(m["id"], m["mentoring_offer"]) for m in found["items"]] == [(cook, True)]
    none = await api.call("GET", "/api/v1/onboarding/mentors?trades=K1801", "conseil@coopaname.example", expect=200)
    assert none["items"] == []
    await api.call("GET", "/api/v1/onboarding/mentors?trades=K1801", "cook@coopaname.example", expect=403)


# ------------------------------------------------------------------------------------------ individual path


async def test_individual_path_on_the_profile(api: Api) -> None:
    entrepreneur = await api.user("lea@coopaname.example")
    colleague = "paul@coopaname.example"
    await api.user(colleague)
    await api.user("conseil@coopaname.example", role="advisor")
    path = f"/api/v1/members/{entrepreneur}/path"
    await api.call("POST", path, "lea@coopaname.example", json={"status": "associate"}, expect=403)
    await api.call(
        "POST", path, "conseil@coopaname.example", json={"status": "cape", "since": "2026-01-05"}, expect=201
    )
    steps = await api.call(
        "POST",
        path,
        "conseil@coopaname.example",
        json={"status": "salaried_entrepreneur", "since": "2026-09-01"},
        expect=201,
    )
    assert [s["status"] for s in steps["items"]] == ["cape", "salaried_entrepreneur"]
    mine = await api.call("GET", "/api/v1/me/path", "lea@coopaname.example", expect=200)
    assert mine["items"] == steps["items"]
    assert (await api.call("GET", path, colleague, expect=200))["items"] == steps["items"]
    await api.call("GET", path, None, expect=401)
    profile = await api.call("GET", "/api/v1/me/profile", "lea@coopaname.example", expect=200)
    assert profile["fields"]["coop_status"] == "salaried_entrepreneur"
    await api.call("POST", path, "conseil@coopaname.example", json={"status": "boss"}, expect=422)
    await api.call(
        "POST", "/api/v1/members/nobody/path", "conseil@coopaname.example", json={"status": "cape"}, expect=404
    )


async def test_cases_past_retention_are_purged(services: Node, clock: ManualClock) -> None:
    a = services.onboarding
    advisor = await staff(services, "conseil@coopaname.example")
    kept = await a.create_case(advisor, CASE)
    await a.create_case(advisor, {**CASE, "retention_until": rules.iso_date(clock() + 86_400_000)})
    clock.advance(2 * 86_400_000)
    assert await a.purge_expired() == 1
    assert [c["id"] for c in await a.list_cases(advisor)] == [kept["id"]]


# ------------------------------------------------------------------------------------------------- pages


@pytest.fixture
async def web_client(aiohttp_client: Any, node_config: NodeConfig, options: NodeOptions) -> Client:
    app = create_app(node_config, options=options)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def test_pages_drive_a_case_through_its_stages(web_client: Client) -> None:
    """Every form of the board and the case page, in process (the browser test covers two real nodes)."""
    api = Api(web_client)
    await api.user("conseil@coopaname.example", role="advisor")
    lea = await api.user("lea@coopaname.example")
    await api.user("membre@coopaname.example")

    def as_(email: str) -> None:
        web_client.session.cookie_jar.clear()
        web_client.session.cookie_jar.update_cookies({"bigre_session": api.tokens[email], "bigre_csrf": "k"})

    async def post(path: str, **form: str) -> Any:
        return await web_client.post(path, data={"csrf": "k", **form}, allow_redirects=False)

    as_("membre@coopaname.example")
    assert (await web_client.get("/advisor/cases")).status == 403
    as_("conseil@coopaname.example")
    board = await web_client.get("/advisor/cases")
    assert board.status == 200 and "Émergence" in await board.text()
    created = await post(
        "/advisor/cases", title="Épicerie paysanne", origin_kind="new_creation", target_form="scic", trades="D1106"
    )
    assert created.status == 303
    case_url = created.headers["Location"]
    for path, form in (
        ("/group", {"name": "Inès", "associate": "on", "employee": "on", "stakeholder": "employee"}),
        ("/group", {"name": "Marc", "associate": "on", "stakeholder": "beneficiary", "capital_eur": "50"}),
        ("/group", {"name": "Mairie", "associate": "on", "stakeholder": "local_authority"}),
        ("/checklist", {"stage": "emergence", "key": "group"}),
        ("/checklist", {"stage": "emergence", "label": "Rencontrer la mairie"}),
        ("/notes", {"stage": "emergence", "text": "Premier rendez-vous"}),
        ("/documents", {"stage": "feasibility", "name": "Étude", "ref": "https://docs.example/etude.pdf"}),
        ("/decisions", {"stage": "legal_form", "text": "Scic SAS", "date": "2027-03-01", "who": "le groupe"}),
        ("/stage", {"stage": "registration"}),
        ("/stage", {"stage": "follow_up", "back": "board"}),
    ):
        response = await post(case_url + path, **form)
        assert response.status == 303, (path, await response.text())
    page = await (await web_client.get(case_url)).text()
    for text in (
        "Inès",
        "Rencontrer la mairie",
        "Premier rendez-vous",
        "etude.pdf",
        "Scic SAS",
        'data-current-stage="follow_up"',
    ):
        assert text in page, text
    built = await post(case_url + "/bundle", name="epicerie", url="https://epicerie.example", display_name="Épicerie")
    assert built.status == 200 and '"sponsor": "coopaname"' in await built.text()  # a file to download
    assert built.headers["Content-Disposition"] == 'attachment; filename="bigre-bundle-epicerie.json"'
    refused = await post(case_url + "/bundle", name="coopaname", url="https://x.example", display_name="X")
    assert refused.status == 409
    assert (await post(case_url + "/stage", stage="nowhere")).status == 422
    assert (
        await web_client.post(case_url + "/notes", data={"csrf": "wrong", "stage": "emergence", "text": "x"})
    ).status == 403

    recorded = await post(f"/members/coopaname/{lea}/path", status="cape", since="2027-01-04")
    assert recorded.status == 303
    assert "Contrat CAPE" in await (await web_client.get(f"/members/coopaname/{lea}")).text()
    as_("lea@coopaname.example")
    mine = await (await web_client.get("/me")).text()
    assert "Contrat CAPE" in mine and "/path" not in mine.split("Contrat CAPE")[1][:400]  # no form for a member
    assert (await post(f"/members/coopaname/{lea}/path", status="associate")).status == 403
