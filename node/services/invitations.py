"""Invitations by e-mail: an operator invites a person (page, API, CLI, or everyone of a CSV import), the person
receives a link to choose their password, valid for the invitation's time (30 days).

Inviting again an address whose account was never activated sends a fresh link (the old ones stop working)
instead of refusing it: people lose mails. The mail is queued in the transaction that creates the invitation,
so there is never an invitation without its mail, nor a mail for an invitation that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.services.accounts import Accounts, check_display_name, check_role, normalise_email
from node.services.mail_queue import MailQueue
from node.services.mail_text import N_, Block, Letterhead, Link, Para, mail_language
from node.storage.database import Database
from node.storage.mail_models import MailSettings
from node.storage.models import Account, Invitation
from node.viewer import Viewer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Invited:
    account: Account
    token: str
    resent: bool  # True: the account existed, not activated; a fresh link replaced the old ones


class Invitations:
    def __init__(self, db: Database, clock: Clock, accounts: Accounts, mail: MailQueue, letterhead: Letterhead) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts
        self.mail = mail
        self.letterhead = letterhead

    async def invite(
        self,
        viewer: Viewer | None,
        *,
        email: object,
        display_name: object = None,
        role: object = "member",
        language: object = None,
    ) -> Invited:
        """Invite by e-mail (``viewer`` None: the CLI, run by the node's operator on its machine)."""
        if viewer is not None and not viewer.is_operator:
            log.info("refused invitation by account %s: not an operator", viewer.account_id)
            raise Forbidden("only operators invite people")
        address = normalise_email(email)
        role = check_role(role)
        if display_name is not None and not isinstance(display_name, str):
            raise InvalidInput.field("display_name", "must be a string")
        name = check_display_name(display_name or address.split("@", 1)[0])
        lang = mail_language(language)
        async with self.db.write() as session:
            account = await session.scalar(select(Account).where(Account.email == address).with_for_update())
            resent = account is not None
            if account is None:
                account, _ = await self.accounts.create_account(session, email=address, display_name=name, role=role)
            elif account.password_hash is not None:
                raise Conflict(f"an account with e-mail {address} already exists and is activated")
            token = await self._fresh_link(session, account)
            await self._set_language(session, account.id, lang)
            self._mail(session, account, token, lang)
        log.info("invitation %s for account %d (role %s)", "sent again" if resent else "sent", account.id, account.role)
        return Invited(account, token, resent)

    async def resend(self, viewer: Viewer | None, account_id: int) -> str:
        """A fresh invitation mail for an account not activated yet (its old links stop working)."""
        if viewer is not None and not viewer.is_operator:
            raise Forbidden("only operators invite people")
        async with self.db.write() as session:
            account = await session.get(Account, account_id, with_for_update=True)
            if account is None:
                raise NotFound(f"no account {account_id}")
            if account.password_hash is not None:
                raise Conflict("this account is already activated")
            token = await self._fresh_link(session, account)
            lang = mail_language(
                await session.scalar(select(MailSettings.language).where(MailSettings.account_id == account.id))
            )
            self._mail(session, account, token, lang)
        log.info("invitation sent again for account %d", account_id)
        return token

    async def mail_links(self, links: Iterable[tuple[str, str]], language: object = None) -> int:
        """Mail invitations already created with their tokens (a CSV import's), one mail each, in one
        transaction. Return how many were queued."""
        lang = mail_language(language)
        pairs = list(links)
        if not pairs:
            return 0
        async with self.db.write() as session:
            by_email = {
                a.email: a
                for a in (
                    await session.execute(select(Account).where(Account.email.in_([e for e, _ in pairs])))
                ).scalars()
            }
            for address, token in pairs:
                account = by_email.get(address)
                if account is None or account.password_hash is not None:
                    continue
                await self._set_language(session, account.id, lang)
                self._mail(session, account, token, lang)
        log.info("%d invitation mails queued", len(pairs))
        return len(pairs)

    async def _fresh_link(self, session: AsyncSession, account: Account) -> str:
        await session.execute(delete(Invitation).where(Invitation.account_id == account.id))
        invitation, token = self.accounts.new_invitation(account.id, account.role)
        session.add(invitation)
        await session.flush()
        return token

    @staticmethod
    async def _set_language(session: AsyncSession, account_id: int, language: str) -> None:
        settings = await session.get(MailSettings, account_id)
        if settings is None:
            session.add(MailSettings(account_id=account_id, language=language, modes={}, last_digest_at=0))
        else:
            settings.language = language

    def _mail(self, session: AsyncSession, account: Account, token: str, language: str) -> None:
        lh = self.letterhead
        w = lh.writer(language)
        now = self.clock()
        until = w.moment(now + self.accounts.invitation_ttl_ms)
        blocks: list[Block] = [
            Para(w(N_("Hello %(name)s,"), name=account.display_name)),
            Para(
                w(
                    N_(
                        "%(coop)s invites you to its space on Bigre, the network where the members of cooperatives "
                        "find each other, offer their trades and help each other."
                    ),
                    coop=lh.coop_name,
                )
            ),
            Para(w(N_("Choose your password with this link, valid until %(until)s:"), until=until)),
            Link(w(N_("Accept the invitation")), lh.url(f"/invitation/{token}")),
            Para(w(N_("If you did not expect this invitation, ignore this mail."))),
        ]
        subject = w(N_("Your invitation to %(coop)s on Bigre"), coop=lh.coop_name)
        message = lh.message(w, to=account.email, subject=subject, blocks=blocks, now_ms=now)
        self.mail.enqueue(session, message, kind="invitation", account_id=account.id)
