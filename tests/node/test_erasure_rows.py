"""Erasing an account leaves nothing that names it: received messages and registrations to other coops' events."""

from __future__ import annotations

from sqlalchemy import func, select

from node.compose import Node
from node.storage.federation_models import InboxMessage


async def test_erasure_deletes_messages_and_remote_registrations(services: Node) -> None:
    account, _ = await services.accounts.add_user(email="ines@example.org", role="member", password="long enough pw!")
    async with services.db.write() as session:
        session.add(
            InboxMessage(
                origin="smart",
                message_id="m1",
                account_id=account.id,
                from_member="x",
                from_name="Karim",
                subject="Bonjour",
                text="Un message privé",
                about=None,
                received_at=1,
                read=False,
            )
        )
    await services.directory.erase_account(account.id)
    async with services.db.read() as session:
        left = await session.scalar(select(func.count()).select_from(InboxMessage))
        assert left == 0
    # an account created afterwards (SQLite may reuse the id) sees no one else's messages
    again, _ = await services.accounts.add_user(email="autre@example.org", role="member", password="long enough pw!")
    async with services.db.read() as session:
        mine = await session.scalar(
            select(func.count()).select_from(InboxMessage).where(InboxMessage.account_id == again.id)
        )
        assert mine == 0
