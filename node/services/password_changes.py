"""Changing a password (signed in, the current one required) and resetting a forgotten one by an e-mailed link.

A reset link is single use and short-lived (an hour); only its SHA-256 is stored. Asking for one answers the
same whether or not the address belongs to an account (no one learns who is a member), and at most one link per
account is mailed every few minutes (a stranger cannot flood a member's mailbox). After a reset every session
and API token of the account ends; after a change every other one does (the one used to change it stays). Each
change is confirmed by a mail to the member, so a change they did not make does not go unnoticed.
"""

from __future__ import annotations

import logging
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from node.clock import Clock
from node.errors import Forbidden, InvalidInput, NotFound
from node.services.accounts import Accounts, LoginResult, new_token, token_hash
from node.services.mail_queue import MailQueue
from node.services.mail_text import N_, Block, Letterhead, Link, Para, mail_language
from node.services.passwords import MAX_PASSWORD, check_password
from node.storage.database import Database
from node.storage.mail_models import MailSettings, PasswordReset
from node.storage.models import Account, AuthToken
from node.viewer import Viewer

log = logging.getLogger(__name__)

RESET_TTL_MS: Final = 60 * 60_000
RESET_EVERY_MS: Final = 2 * 60_000  # at most one reset mail per account in this time


class Passwords:
    def __init__(self, db: Database, clock: Clock, accounts: Accounts, mail: MailQueue, letterhead: Letterhead) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts
        self.mail = mail
        self.letterhead = letterhead

    async def request_reset(self, email: object, language: str | None, client: str) -> None:
        """Mail a reset link if ``email`` is an active account's; say nothing either way (the caller answers the
        same). Requests from one address are throttled like failed logins."""
        keys = (f"reset-ip:{client}"[:300],)
        now = self.clock()
        await self.accounts._check_throttle(keys, now, "password reset")
        address = email.strip().lower()[:254] if isinstance(email, str) else ""
        async with self.db.write() as session:
            await self.accounts._record_failure(session, keys, now)  # every request counts against the address
            account = await session.scalar(select(Account).where(Account.email == address)) if address else None
            if account is None or account.disabled or account.password_hash is None:
                log.info("password reset asked from %s for no active account", client)
                return
            recent = await session.scalar(
                select(PasswordReset.id).where(
                    PasswordReset.account_id == account.id, PasswordReset.created_at > now - RESET_EVERY_MS
                )
            )
            if recent is not None:
                log.info("password reset for account %d not mailed again so soon", account.id)
                return
            token = new_token()
            session.add(
                PasswordReset(
                    token_hash=token_hash(token),
                    account_id=account.id,
                    created_at=now,
                    expires_at=now + RESET_TTL_MS,
                    used_at=None,
                )
            )
            self._mail_reset(session, account, token, await _language(session, account.id, language), now)
        log.info("password reset link queued for account %d", account.id)

    def _mail_reset(self, session: AsyncSession, account: Account, token: str, language: str, now: int) -> None:
        lh = self.letterhead
        w = lh.writer(language)
        blocks: list[Block] = [
            Para(w(N_("Hello %(name)s,"), name=account.display_name)),
            Para(
                w(
                    N_(
                        "Someone, probably you, asked to reset the password of your account on %(coop)s. Choose a "
                        "new password with this link; it works once, for one hour:"
                    ),
                    coop=lh.coop_name,
                )
            ),
            Link(w(N_("Choose a new password")), lh.url(f"/password/reset/{token}")),
            Para(w(N_("If you did not ask for it, ignore this mail: your password stays as it is."))),
        ]
        subject = w(N_("Reset your password on %(coop)s"), coop=lh.coop_name)
        message = lh.message(w, to=account.email, subject=subject, blocks=blocks, now_ms=now)
        self.mail.enqueue(session, message, kind="password_reset", account_id=account.id)

    async def check_reset(self, token: object) -> None:
        """Raise NotFound unless ``token`` is a live reset link (the page says so before asking for a password)."""
        now = self.clock()
        async with self.db.read() as session:
            reset = await _reset(session, token)
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise NotFound("this password reset link is unknown, used or expired")

    async def reset(self, token: object, password: object, client: str) -> LoginResult:
        """Set a new password from a reset link; every session ends; the person is signed in afresh."""
        keys = (f"reset-ip:{client}"[:300],)
        now = self.clock()
        await self.accounts._check_throttle(keys, now, "password reset")
        async with self.db.read() as session:
            found = await _reset(session, token)
        if found is None or found.used_at is not None or found.expires_at <= now:
            async with self.db.write() as session:
                await self.accounts._record_failure(session, keys, now)
            log.info("refused password reset from %s: unknown, used or expired link", client)
            raise NotFound("this password reset link is unknown, used or expired")
        new_hash = await self.accounts.hasher.hash_async(check_password(password))
        async with self.db.write() as session:
            reset = await _reset(session, token, lock=True)
            if reset is None or reset.used_at is not None or reset.expires_at <= now:
                raise NotFound("this password reset link is unknown, used or expired")  # used meanwhile
            account = await session.get(Account, reset.account_id)
            if account is None or account.disabled:
                raise Forbidden("this account is disabled")
            reset.used_at = now
            account.password_hash = new_hash
            await session.execute(delete(AuthToken).where(AuthToken.account_id == account.id))
            await session.execute(
                delete(PasswordReset).where(PasswordReset.account_id == account.id, PasswordReset.id != reset.id)
            )
            result = await self.accounts._open_session(session, account, now)
            self._mail_changed(session, account, await _language(session, account.id, None), now)
        log.info("account %d reset its password; every other session ended", account.id)
        return result

    async def change(self, viewer: Viewer, current: object, new: object, keep_token: str | None) -> None:
        """Change the signed-in member's password (the current one checked, throttled); every other session and
        token of the account ends, the one used here (``keep_token``) stays."""
        if viewer.account_id is None:
            raise Forbidden("sign in first")
        if not isinstance(current, str) or not current or len(current) > MAX_PASSWORD:
            raise InvalidInput.field("current_password", "is required")
        new_password = check_password(new)
        try:
            await self.accounts.verify_password(viewer.account_id, current)
        except Forbidden as exc:
            raise InvalidInput.field("current_password", "the password does not match") from exc
        new_hash = await self.accounts.hasher.hash_async(new_password)
        now = self.clock()
        async with self.db.write() as session:
            account = await session.get(Account, viewer.account_id)
            if account is None or account.disabled:
                raise Forbidden("this account is disabled")
            account.password_hash = new_hash
            ended = delete(AuthToken).where(AuthToken.account_id == account.id)
            if keep_token:
                ended = ended.where(AuthToken.token_hash != token_hash(keep_token))
            await session.execute(ended)
            await session.execute(delete(PasswordReset).where(PasswordReset.account_id == account.id))
            self._mail_changed(session, account, await _language(session, account.id, None), now)
        log.info("account %d changed its password; its other sessions ended", account.id)

    def _mail_changed(self, session: AsyncSession, account: Account, language: str, now: int) -> None:
        lh = self.letterhead
        w = lh.writer(language)
        blocks: list[Block] = [
            Para(w(N_("Hello %(name)s,"), name=account.display_name)),
            Para(
                w(
                    N_(
                        "The password of your account on %(coop)s was changed on %(when)s, and every other session "
                        "was signed out."
                    ),
                    coop=lh.coop_name,
                    when=w.moment(now),
                )
            ),
            Para(w(N_("If it was not you, choose a new password at once and tell your coop's operators:"))),
            Link(w(N_("I forgot my password")), lh.url("/password/forgot")),
        ]
        subject = w(N_("Your password on %(coop)s was changed"), coop=lh.coop_name)
        message = lh.message(w, to=account.email, subject=subject, blocks=blocks, now_ms=now)
        self.mail.enqueue(session, message, kind="password_changed", account_id=account.id)


async def _reset(session: AsyncSession, token: object, *, lock: bool = False) -> PasswordReset | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    query = select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))
    found: PasswordReset | None = await session.scalar(query.with_for_update() if lock else query)
    return found


async def _language(session: AsyncSession, account_id: int, asked: str | None) -> str:
    """The language to write to an account in: the one asked for (the page's), else its settings', else French."""
    if asked:
        return mail_language(asked)
    return mail_language(
        await session.scalar(select(MailSettings.language).where(MailSettings.account_id == account_id))
    )
