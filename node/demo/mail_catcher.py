"""A local mail catcher for the demo and the tests: a real SMTP server (aiosmtpd) on a loopback port that keeps
every mail it receives, as a ``.eml`` file in a folder (open it with any mail program) and in memory.

The demo's nodes send their invitations, password resets and notifications to it, so "forgot my password" works
on the demo's logins without a real mail server; the tests use it to receive what the nodes really send over
SMTP. ``refuse_with`` makes it answer every message with an SMTP error (a server that is down or full), to
test retries.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)


@dataclass
class MailCatcher:
    """Start with :meth:`start` (on the running loop), stop with :meth:`stop`."""

    folder: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, read back from :attr:`port` after start
    refuse_with: str | None = None  # e.g. "451 4.3.0 try again later"
    #: a (user, password) the server then requires (AUTH PLAIN/LOGIN; over plain TCP: loopback only)
    credentials: tuple[str, str] | None = None
    #: a server certificate: offered by STARTTLS (required before MAIL), or from the first byte with implicit_tls
    tls: ssl.SSLContext | None = None
    implicit_tls: bool = False
    received: list[EmailMessage] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition | None = None

    async def start(self) -> MailCatcher:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Condition()
        self._server = await loop.create_server(
            lambda: SMTP(
                self,
                hostname="bigre-mail-catcher",
                auth_require_tls=False,
                auth_required=self.credentials is not None,
                authenticator=self._authenticate,
                tls_context=None if self.implicit_tls else self.tls,
                require_starttls=self.tls is not None and not self.implicit_tls,
            ),
            self.host,
            self.port,
            ssl=self.tls if self.implicit_tls else None,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("mail catcher listening on %s:%d, writing to %s", self.host, self.port, self.folder)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self.credentials is None or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.credentials
        return AuthResult(success=data.login == user.encode() and data.password == password.encode())

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd
        if self.refuse_with:
            return self.refuse_with
        raw: Any = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        if self.folder is not None:
            path = self.folder / f"{len(self.received):04d}-{_slug(str(message.get('To', 'mail')))}.eml"
            path.write_bytes(data)
        if self._arrived is not None:
            async with self._arrived:
                self._arrived.notify_all()
        return "250 OK"

    async def wait_for(self, count: int, within: float = 10.0) -> list[EmailMessage]:
        """Wait until ``count`` mails have arrived in all (a deadline, not a fixed sleep)."""
        assert self._arrived is not None
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.received) >= count), within)
        return self.received


def _slug(address: str) -> str:
    return "".join(c if c.isalnum() or c in "@.-" else "_" for c in address)[:60]


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a received mail."""
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


class CatcherThread:
    """A :class:`MailCatcher` on its own event loop in a daemon thread: for a program whose own loop is busy or
    absent (the demo, which waits on its child processes; the page tests' session fixture)."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.catcher = MailCatcher(folder=folder, host=host, port=port)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mail-catcher", daemon=True)
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.catcher.port

    @property
    def folder(self) -> Path:
        assert self.catcher.folder is not None
        return self.catcher.folder

    def start(self) -> CatcherThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the mail catcher did not start")
        if self._error is not None:
            raise RuntimeError(f"the mail catcher did not start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.catcher.start())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.catcher.stop())
        self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def mails_to(self, address: str) -> list[EmailMessage]:
        """The mails received so far for ``address``, oldest first (read from the folder: any process may look)."""
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if isinstance(message, EmailMessage) and str(message.get("To", "")).lower() == address.lower():
                found.append(message)
        return found
