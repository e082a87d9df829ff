"""Notifications by e-mail: each kind switchable by the member (off, at once, or in a daily digest), each mail
with a one-click unsubscribe link for its kind.

The services that create a notice (a message received, a saved search's new matches, an answer to an event
registration or to a help request, a decision to vote on, a case update) call :meth:`Notifications.notify` in
their own transaction: the mail (or the digest item) is queued exactly when the notice is stored, so a notice
received twice, or a restart, never mails twice. The ``mail digests`` job gathers each member's items, once a
day, into one mail grouped by kind; the items it mails are marked in the same transaction.

An unsubscribe link is ``/unsubscribe/<account>.<kind>.<signature>``, an HMAC-SHA256 under a random key the
node keeps (``node_secrets``): it works without signing in, and can only be made by this node. Mails carry it
as ``List-Unsubscribe`` with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), so a mail
client's "unsubscribe" button works too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.clock import Clock
from node.errors import InvalidInput, NotAuthenticated, NotFound
from node.services.mail_queue import MailQueue
from node.services.mail_text import N_, Block, Heading, Items, Letterhead, Link, Para, Writer, mail_language
from node.storage.database import Database
from node.storage.mail_models import DigestItem, MailNotice, MailSettings, NodeSecret
from node.storage.models import Account
from node.viewer import Viewer

log = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
MODES: Final = ("off", "immediate", "daily")
#: every kind of notification: (who may receive it: None for every member, else a role), default mode
KINDS: Final[dict[str, tuple[str | None, str]]] = {
    "message": (None, "immediate"),
    "saved_search": (None, "daily"),
    "event_registration": (None, "immediate"),
    "help_answer": (None, "immediate"),
    "decision": ("operator", "immediate"),
    "case": ("advisor", "immediate"),
}
#: what a kind is called in a mail (its subject, the digest's headings, the settings page reads the same)
TITLES: Final = {
    "message": N_("New messages"),
    "saved_search": N_("New matches for your saved searches"),
    "event_registration": N_("Answers to your event registrations"),
    "help_answer": N_("Answers to your help requests"),
    "decision": N_("Decisions to vote on"),
    "case": N_("Updates of onboarding cases"),
}
DIGEST: Final = "digest"  # the unsubscribe kind of a digest: every kind it gathers


def kinds_for(role: str) -> list[str]:
    """The kinds an account of ``role`` may receive (operators' and advisors' own kinds on top of everyone's)."""
    return [k for k, (only, _) in KINDS.items() if only is None or only == role]


class Notifications:
    def __init__(self, db: Database, clock: Clock, mail: MailQueue, letterhead: Letterhead) -> None:
        self.db = db
        self.clock = clock
        self.mail = mail
        self.letterhead = letterhead
        self._key: bytes | None = None

    async def prepare(self) -> None:
        """Load (or create, once) the key that signs unsubscribe links."""
        async with self.db.write() as session:
            row = await session.get(NodeSecret, "unsubscribe")
            if row is None:
                row = NodeSecret(name="unsubscribe", value=secrets.token_bytes(32))
                session.add(row)
            self._key = bytes(row.value)

    # ------------------------------------------------------------------------------------------ settings

    async def settings(self, viewer: Viewer) -> dict[str, Any]:
        account_id = _account(viewer)
        async with self.db.read() as session:
            row = await session.get(MailSettings, account_id)
        modes = dict(row.modes) if row else {}
        return {
            "language": mail_language(row.language if row else None),
            "modes": {k: _mode(modes, k) for k in kinds_for(viewer.role or "member")},
        }

    async def update_settings(self, viewer: Viewer, *, language: object = None, modes: object = None) -> dict[str, Any]:
        account_id = _account(viewer)
        allowed = kinds_for(viewer.role or "member")
        changes: dict[str, str] = {}
        if modes is not None:
            if not isinstance(modes, Mapping):
                raise InvalidInput.field("modes", "must be an object of kind: mode")
            for kind, mode in modes.items():
                if kind not in allowed:
                    raise InvalidInput.field("modes", f"unknown kind {kind!r}; one of {', '.join(allowed)}")
                if mode not in MODES:
                    raise InvalidInput.field("modes", f"{kind}: must be one of {', '.join(MODES)}")
                changes[str(kind)] = str(mode)
        if language is not None and language not in ("fr", "en"):
            raise InvalidInput.field("language", "must be fr or en")
        async with self.db.write() as session:
            row = await session.get(MailSettings, account_id, with_for_update=True)
            if row is None:
                row = MailSettings(account_id=account_id, language=mail_language(language), modes={}, last_digest_at=0)
                session.add(row)
            row.modes = {**dict(row.modes or {}), **changes}
            if language is not None:
                row.language = str(language)
        log.info("account %d changed its mail settings: %s", account_id, sorted(changes) or "language")
        return await self.settings(viewer)

    # ------------------------------------------------------------------------------------------ notices

    async def notify(
        self,
        session: AsyncSession,
        account_id: int,
        kind: str,
        line: str,
        values: Mapping[str, object],
        link: str,
        *,
        once: str | None = None,
    ) -> None:
        """A notice for one account, in the caller's transaction: mailed now, kept for the digest, or nothing,
        as the member chose. ``line`` is an :func:`N_` message id, written in the member's language. ``once``:
        a key under which the notice goes out at most once for the account (a notice the node may see again)."""
        role, email, disabled = (
            await session.execute(select(Account.role, Account.email, Account.disabled).where(Account.id == account_id))
        ).one_or_none() or (None, None, True)
        if role is None or disabled or kind not in kinds_for(str(role)):
            return
        settings = await session.get(MailSettings, account_id)
        mode = _mode(dict(settings.modes) if settings else {}, kind)
        if mode == "off":
            return
        if once is not None:
            if await session.get(MailNotice, (account_id, once[:120])) is not None:
                return
            session.add(MailNotice(account_id=account_id, key=once[:120], created_at=self.clock()))
        w = self.letterhead.writer(settings.language if settings else "fr")
        text = w(line, **values)[:400]
        if mode == "daily":
            session.add(
                DigestItem(account_id=account_id, kind=kind, text=text, link=link[:400], created_at=self.clock())
            )
            return
        blocks: list[Block] = [Para(text), Link(w(N_("Open it on the site")), self.letterhead.url(link))]
        self._send(session, w, account_id, str(email), kind, w(TITLES[kind]), blocks)

    async def notify_role(
        self,
        session: AsyncSession,
        role: str,
        kind: str,
        line: str,
        values: Mapping[str, object],
        link: str,
        *,
        once: str | None = None,
        besides: int | None = None,
    ) -> None:
        """The same notice for every active account of ``role`` (decisions for operators, cases for advisors),
        ``besides`` the one who caused it."""
        ids = (
            await session.execute(select(Account.id).where(Account.role == role, Account.disabled.is_(False)))
        ).scalars()
        for account_id in list(ids):
            if account_id != besides:
                await self.notify(session, account_id, kind, line, values, link, once=once)

    async def decision_to_vote(self, ref: str, subject: str, deadline_ms: int) -> None:
        """A proposal of the network is open: each operator is told once (proposals are replayed at each start)."""
        async with self.db.write() as session:
            for account_id in list(
                (
                    await session.execute(
                        select(Account.id).where(Account.role == "operator", Account.disabled.is_(False))
                    )
                ).scalars()
            ):
                settings = await session.get(MailSettings, account_id)
                w = self.letterhead.writer(settings.language if settings else "fr")
                await self.notify(
                    session,
                    account_id,
                    "decision",
                    N_("A decision of the network is open to your coop's vote, about %(subject)s, until %(deadline)s"),
                    {"subject": subject, "deadline": w.moment(deadline_ms)},
                    "/governance",
                    once=f"decision:{ref}",
                )

    def _send(
        self, session: AsyncSession, w: Writer, account_id: int, email: str, kind: str, title: str, blocks: list[Block]
    ) -> None:
        lh = self.letterhead
        unsubscribe = lh.url(f"/unsubscribe/{self.token(account_id, kind)}")
        footer: list[Block] = [
            Para(w(N_("You receive this mail because of your notification settings on %(coop)s."), coop=lh.coop_name)),
            Link(w(N_("Stop these mails")), unsubscribe),
            Link(w(N_("Change my notification settings")), lh.url("/me/mail")),
        ]
        subject = f"{lh.coop_name} · {title}"
        message = lh.message(
            w,
            to=email,
            subject=subject,
            blocks=[*blocks, *footer],
            now_ms=self.clock(),
            headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        )
        self.mail.enqueue(session, message, kind=kind, account_id=account_id)

    # -------------------------------------------------------------------------------------------- digest

    async def run_digests(self) -> int:
        """Mail each member's waiting items, grouped by kind, at most once a day (the ``mail digests`` job)."""
        now = self.clock()
        async with self.db.read() as session:
            due = (
                await session.execute(
                    select(DigestItem.account_id)
                    .outerjoin(MailSettings, MailSettings.account_id == DigestItem.account_id)
                    .where(DigestItem.mailed_at.is_(None))
                    .where((MailSettings.last_digest_at.is_(None)) | (MailSettings.last_digest_at <= now - DAY_MS))
                    .distinct()
                )
            ).scalars()
            accounts = list(due)
        mailed = 0
        for account_id in accounts:
            mailed += await self._digest(account_id, now)
        return mailed

    async def _digest(self, account_id: int, now: int) -> int:
        async with self.db.write() as session:
            settings = await session.get(MailSettings, account_id, with_for_update=True)
            if settings is not None and settings.last_digest_at > now - DAY_MS:
                return 0  # another run took it
            items = (
                (
                    await session.execute(
                        select(DigestItem)
                        .where(DigestItem.account_id == account_id, DigestItem.mailed_at.is_(None))
                        .order_by(DigestItem.kind, DigestItem.id)
                        .with_for_update()
                    )
                )
                .scalars()
                .all()
            )
            account = await session.get(Account, account_id)
            for item in items:
                item.mailed_at = now
            if settings is None:
                settings = MailSettings(account_id=account_id, language="fr", modes={}, last_digest_at=now)
                session.add(settings)
            settings.last_digest_at = now
            modes = dict(settings.modes or {})
            wanted = [i for i in items if _mode(modes, i.kind) == "daily"]  # a kind switched off meanwhile: dropped
            if account is None or account.disabled or not wanted:
                return 0
            w = self.letterhead.writer(settings.language)
            blocks: list[Block] = [
                Para(w(N_("Hello %(name)s, here is what happened for you today:"), name=account.display_name))
            ]
            for kind in dict.fromkeys(i.kind for i in wanted):
                blocks.append(Heading(w(TITLES[kind])))
                blocks.append(Items(tuple((i.text, self.letterhead.url(i.link)) for i in wanted if i.kind == kind)))
                blocks.append(
                    Link(w(N_("Stop these mails")), self.letterhead.url(f"/unsubscribe/{self.token(account_id, kind)}"))
                )
            self._send(session, w, account_id, account.email, DIGEST, w(N_("Your daily summary")), blocks)
        log.info("daily digest of %d items queued for account %d", len(wanted), account_id)
        return 1

    # ----------------------------------------------------------------------------------------- unsubscribe

    def token(self, account_id: int, kind: str) -> str:
        payload = f"{account_id}.{kind}"
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        if self._key is None:
            raise RuntimeError("Notifications.prepare() was not awaited")
        digest = hmac.new(self._key, b"unsubscribe:" + payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode("ascii")

    def read_token(self, token: object) -> tuple[int, str]:
        """The account and kind of an unsubscribe link, or NotFound (a wrong or altered link)."""
        parts = token.split(".") if isinstance(token, str) and len(token) <= 100 else []
        if (
            len(parts) == 3
            and parts[0].isdigit()
            and (parts[1] in KINDS or parts[1] == DIGEST)
            and hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}"), parts[2])
        ):
            return int(parts[0]), parts[1]
        log.info("refused unsubscribe link: unknown or altered")
        raise NotFound("this unsubscribe link is not valid")

    async def unsubscribe(self, token: object) -> str:
        """Switch off the link's kind (a digest's: every kind in the digest); return the kind."""
        account_id, kind = self.read_token(token)
        async with self.db.write() as session:
            row = await session.get(MailSettings, account_id, with_for_update=True)
            if row is None:
                row = MailSettings(account_id=account_id, language="fr", modes={}, last_digest_at=0)
                session.add(row)
            modes = dict(row.modes or {})
            if kind == DIGEST:
                for k in KINDS:
                    if _mode(modes, k) == "daily":
                        modes[k] = "off"
            else:
                modes[kind] = "off"
            row.modes = modes
            await session.execute(
                update(DigestItem)
                .where(DigestItem.account_id == account_id, DigestItem.mailed_at.is_(None))
                .where(DigestItem.kind.in_([k for k in KINDS if modes.get(k) == "off"]))
                .values(mailed_at=self.clock())
            )
        log.info("account %d unsubscribed from %s mails", account_id, kind)
        return kind


def _mode(modes: Mapping[str, Any], kind: str) -> str:
    mode = modes.get(kind)
    return str(mode) if mode in MODES else KINDS[kind][1]


def _account(viewer: Viewer) -> int:
    if viewer.account_id is None:
        raise NotAuthenticated("sign in first")
    return viewer.account_id
