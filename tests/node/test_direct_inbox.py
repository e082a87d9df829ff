"""The node's side of direct records: one handler per direct type, the one send path, and what happens to an
old-style move / case / registration message from a node that has not upgraded (refused with a reason, never
taken for a private message, never lost silently)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from federation.errors import RecordRefusedError
from node.compose import Node, open_node
from node.config import create_node_dir
from node.errors import InvalidInput
from node.federation_adapter.direct_inbox import DirectInbox
from node.storage.federation_models import InboxMessage
from node.storage.models import OutboxItem
from node.viewer import Viewer
from protocol import DIRECT_TYPES, Record, SigningKey, check_body, sign_direct

from .test_moving import login, peer_with


def test_every_direct_type_has_a_handler(services: Node) -> None:
    inbox = services.federation.inbox
    assert isinstance(inbox, DirectInbox)
    assert inbox.types == DIRECT_TYPES
    with pytest.raises(ValueError, match="not a direct record type"):
        inbox.register("offer", services.messages.receive)
    with pytest.raises(ValueError, match="already has a handler"):
        inbox.register("message", services.messages.receive)


def _old_style(subject: str, to_member: str) -> Record:
    body = {"to_node": "coopaname", "to_member": to_member, "from_member": "m-x", "subject": subject, "text": "{}"}
    entry = sign_direct(SigningKey.generate(), type="message", origin="smart", id="old-1", now=1, body=body)
    return Record(entry, check_body(entry))


@pytest.mark.parametrize(
    ("subject", "to_member"),
    [
        ("bigre:member-move 1/3 " + "0" * 32, "moves"),
        ("bigre:member-moved 1/1 " + "0" * 32, "m-lea"),
        ("bigre:onboarding-case 2/2 " + "0" * 32, "advisors"),
        ("bigre:event-registration", "events"),
        ("bigre:event-registration-answer", "m-lea"),
    ],
)
async def test_old_style_messages_are_refused_with_a_reason(services: Node, subject: str, to_member: str) -> None:
    member = await login(services, "lea@coopaname.example")
    record = _old_style(subject, to_member if to_member != "m-lea" else str(member.member_id))
    with pytest.raises(RecordRefusedError) as info:
        await services.federation.inbox.deliver(record, services.clock())
    assert info.value.code == "obsolete_message" and "upgrade the sending node" in info.value.reason
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(InboxMessage)) == 0


async def test_messages_go_through_the_one_send_path(services: Node, tmp_path: Path) -> None:
    """A message to another coop is a typed direct record queued (kind ``direct``) in the same transaction."""
    member = await login(services, "lea@coopaname.example")
    with pytest.raises(InvalidInput, match="reserved"):
        await services.messages.send(member, {"to_member": "x", "subject": "bigre:member-move 1/1 x", "text": "t"})
    config = create_node_dir(tmp_path / "smart", name="smart", url="http://127.0.0.1:8401")
    other = await open_node(config)
    try:
        await peer_with(services, other)
        sent = await services.messages.send(member, {"to_node": "smart", "to_member": "m-karim", "text": "Bonjour"})
    finally:
        await other.close()
    async with services.db.read() as session:
        rows = (await session.scalars(select(OutboxItem).where(OutboxItem.peer == "smart"))).all()
    assert [(r.kind, r.refused_at) for r in rows] == [("direct", None)]
    assert rows[0].payload is not None and sent["id"].encode() in rows[0].payload


async def test_a_member_writes_to_a_member_here(services: Node) -> None:
    lea = await login(services, "lea@coopaname.example")
    tom = await login(services, "tom@coopaname.example")
    assert isinstance(tom, Viewer) and tom.member_id is not None
    await services.messages.send(lea, {"to_member": tom.member_id, "text": "Salut"})
    [got] = await services.messages.inbox(tom)
    assert got.text == "Salut" and got.origin == "coopaname"


def test_case_vocabulary_is_the_protocols() -> None:
    """The onboarding rules and the ``case_share`` schema name the same stages, kinds, forms and stakeholders."""
    from node.services import onboarding_rules as rules
    from protocol.records import CASE_SHARE, CASE_STAGES

    fields = {f.name: f for f in CASE_SHARE.fields}
    assert rules.STAGES == CASE_STAGES
    assert fields["origin_kind"].choices == rules.ORIGIN_KINDS
    assert fields["target_form"].choices == rules.TARGET_FORMS
    group = fields["group"].item
    assert group is not None
    assert next(f for f in group.fields if f.name == "stakeholder").choices == rules.STAKEHOLDERS
    assert fields["group"].max_len == rules.MAX_GROUP
