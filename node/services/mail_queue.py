"""The durable queue of outgoing mail and its sending to the coop's SMTP server (aiosmtplib).

A mail is queued in the transaction of what caused it (an invitation, a reset, a notice), so it exists exactly
when that committed. The ``mail queue`` job sends what is due:

1. **claim**: in one committed transaction the due rows become ``sending`` (their attempt counted);
2. **send** each through SMTP (TLS or STARTTLS as configured; the credentials never reach a log or an error);
3. **settle**: ``sent`` (its content erased: it may hold a live invitation or reset link); or, on a temporary
   failure, ``queued`` again after a growing wait (``backoff``); after the last attempt, or on a permanent
   refusal (5xx), ``failed``, shown to the operator (page and ``bigre mail list``) who may ``retry`` it.

A restart between 1 and 3 leaves rows ``sending``: the SMTP server may have taken them, so they are never sent
again by themselves (:meth:`MailQueue.recover` sets them ``failed``, "interrupted, may have been delivered"):
no mail goes out twice, and none is silently lost.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Final

import aiosmtplib
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from node.clock import Clock
from node.errors import Conflict, Forbidden, NotFound
from node.storage.database import Database
from node.storage.mail_models import OutgoingMail
from node.viewer import Viewer

log = logging.getLogger(__name__)

STATUSES: Final = ("queued", "sending", "sent", "failed")
INTERRUPTED: Final = "interrupted while sending (the node stopped): it may have been delivered; retry it if not"
NOT_CONFIGURED: Final = "no SMTP server is configured (smtp_host)"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how to send; ``password`` is kept out of every repr and log line."""

    host: str | None
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    #: a CA file to trust instead of the system's (a coop's own relay with its own certificate; tests)
    ca_file: str | None = None

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r})"


@dataclass(frozen=True, slots=True)
class MailPolicy:
    """How often and how long a failed mail is tried again: ``base_ms`` doubling, at most ``max_ms``."""

    max_attempts: int = 8
    base_ms: int = 60_000
    max_ms: int = 6 * 3_600_000
    batch: int = 50

    def backoff_ms(self, attempts: int) -> int:
        return int(min(self.max_ms, self.base_ms * 2 ** max(0, min(attempts - 1, 30))))


class MailQueue:
    def __init__(self, db: Database, clock: Clock, smtp: SmtpSettings, policy: MailPolicy | None = None) -> None:
        self.db = db
        self.clock = clock
        self.smtp = smtp
        self.policy = policy or MailPolicy()

    def enqueue(self, session: AsyncSession, message: EmailMessage, *, kind: str, account_id: int | None) -> None:
        """Queue ``message`` in the caller's transaction (it exists exactly when the caller's change does)."""
        now = self.clock()
        session.add(
            OutgoingMail(
                account_id=account_id,
                to_addr=str(message["To"]),
                kind=kind,
                subject=str(message["Subject"])[:300],
                message=message.as_bytes(policy=policy.SMTP),
                status="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )

    async def recover(self) -> int:
        """At start: rows left ``sending`` by a stop mid-delivery are set aside as failed, never resent alone."""
        async with self.db.write() as session:
            result = await session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.status == "sending")
                .values(status="failed", last_error=INTERRUPTED)
            )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning("mail queue: %d mails were being sent when the node stopped; set aside as failed", count)
        return count

    async def run_due(self) -> int:
        """Send the due mails (the ``mail queue`` job); return how many left."""
        if not self.smtp.host:
            return 0
        claimed = await self._claim()
        sent = 0
        for mail_id, raw, attempts in claimed:
            error, permanent = await self._send(raw)
            await self._settle(mail_id, attempts, error, permanent)
            sent += error is None
        return sent

    async def _claim(self) -> list[tuple[int, bytes, int]]:
        now = self.clock()
        async with self.db.write() as session:
            rows = (
                await session.execute(
                    select(OutgoingMail.id, OutgoingMail.message, OutgoingMail.attempts)
                    .where(OutgoingMail.status == "queued", OutgoingMail.next_attempt_at <= now)
                    .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
                    .limit(self.policy.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            ids = [r[0] for r in rows]
            if ids:
                await session.execute(
                    update(OutgoingMail)
                    .where(OutgoingMail.id.in_(ids), OutgoingMail.status == "queued")
                    .values(status="sending", attempts=OutgoingMail.attempts + 1)
                )
        return [(mail_id, raw, attempts + 1) for mail_id, raw, attempts in rows]

    async def _send(self, raw: bytes) -> tuple[str | None, bool]:
        """Deliver one message; the error (None when sent) and whether it is permanent."""
        s = self.smtp
        message = message_from_bytes(raw, policy=policy.SMTP)
        tls_context = ssl.create_default_context(cafile=s.ca_file) if s.ca_file and s.security != "none" else None
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                tls_context=tls_context,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            return _clean(f"recipient refused: {'; '.join(str(r) for r in exc.recipients)}", s), all(
                c >= 500 for c in codes
            )
        except aiosmtplib.SMTPResponseException as exc:
            return _clean(f"SMTP {exc.code}: {exc.message}", s), 500 <= exc.code < 600 and exc.code != 530
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return _clean(f"{type(exc).__name__}: {exc}", s), False
        return None, False

    async def _settle(self, mail_id: int, attempts: int, error: str | None, permanent: bool) -> None:
        now = self.clock()
        values: dict[str, Any]
        if error is None:
            # the content goes once sent: it may hold a live link (invitation, reset) whose token the node
            # otherwise keeps only as a hash
            values = {"status": "sent", "sent_at": now, "last_error": None, "message": b""}
            log.info("mail %d sent", mail_id)
        elif permanent or attempts >= self.policy.max_attempts:
            values = {"status": "failed", "last_error": error}
            log.warning("mail %d failed for good after %d attempts: %s", mail_id, attempts, error)
        else:
            wait = self.policy.backoff_ms(attempts)
            values = {"status": "queued", "last_error": error, "next_attempt_at": now + wait}
            log.warning("mail %d not sent (attempt %d, next in %d s): %s", mail_id, attempts, wait // 1000, error)
        async with self.db.write() as session:
            await session.execute(
                update(OutgoingMail).where(OutgoingMail.id == mail_id, OutgoingMail.status == "sending").values(values)
            )

    # ------------------------------------------------------------------------------------- the operator

    async def list_mails(
        self, viewer: Viewer | None, *, status: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Mails of the queue, newest first (all but ``sent`` when ``status`` is None). ``viewer`` None: the CLI."""
        _operator(viewer)
        async with self.db.read() as session:
            query = select(OutgoingMail).order_by(OutgoingMail.id.desc()).limit(limit)
            query = query.where(OutgoingMail.status == status) if status else query.where(OutgoingMail.status != "sent")
            rows = (await session.execute(query)).scalars().all()
        return [
            {
                "id": r.id,
                "to": r.to_addr,
                "kind": r.kind,
                "subject": r.subject,
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at if r.status == "queued" else None,
                "last_error": r.last_error,
                "created_at": r.created_at,
                "sent_at": r.sent_at,
            }
            for r in rows
        ]

    async def counts(self) -> dict[str, int]:
        async with self.db.read() as session:
            rows = (
                await session.execute(select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status))
            ).all()
        found = {status: int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in STATUSES}

    async def retry(self, viewer: Viewer | None, mail_id: int) -> None:
        """Put a failed mail back in the queue, due now, its attempts counted afresh."""
        _operator(viewer)
        async with self.db.write() as session:
            row = await session.get(OutgoingMail, mail_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no mail {mail_id}")
            if row.status != "failed":
                raise Conflict(f"mail {mail_id} is {row.status}, not failed")
            row.status, row.attempts, row.next_attempt_at = "queued", 0, self.clock()
        log.info("mail %d queued again by %s", mail_id, "the CLI" if viewer is None else f"account {viewer.account_id}")


def _operator(viewer: Viewer | None) -> None:
    if viewer is not None and not viewer.is_operator:
        log.info("refused mail queue access to account %s", viewer.account_id)
        raise Forbidden("only operators see the mail queue")


def _clean(error: str, smtp: SmtpSettings) -> str:
    """An SMTP error as stored and logged: one line, bounded, and never the password (some servers echo it)."""
    text = " ".join(error.split())[:500]
    if smtp.password:
        text = text.replace(smtp.password, "***")
    return text
