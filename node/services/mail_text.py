"""The node's mails as people read them: in the member's language (French or English, the pages' gettext
catalogs), plain text plus a simple HTML part, signed with the coop's name.

A mail is a short list of blocks (a paragraph, a link, a heading, a list of linked lines) rendered twice, as
text and as HTML, so the two parts always say the same thing. The words are English message ids marked with
:func:`N_` and extracted with the pages' (babel.cfg); the catalogs are read from ``node/web/locales`` as files
(this layer may not import the pages' code), compiled in memory like the pages'.
"""

from __future__ import annotations

import email.utils
import functools
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from node.clock import utc_datetime

LOCALES: Final = Path(__file__).resolve().parents[1] / "web" / "locales"
MAIL_LANGUAGES: Final = ("fr", "en")
DEFAULT_MAIL_LANGUAGE: Final = "fr"
_FORMAT_LOCALE: Final = {"en": "en_GB", "fr": "fr_FR"}


def N_(message: str) -> str:  # noqa: N802 - the gettext marker convention
    """Mark a message id for extraction; it is translated when the mail is written, in the reader's language."""
    return message


@functools.lru_cache(maxsize=8)
def translations(language: str) -> NullTranslations:
    """The catalog of ``language`` (the pages' own), or English ids when it has none."""
    po = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain="messages")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


def mail_language(language: object) -> str:
    """A language the mails are written in: the given one when offered, else French."""
    return language if isinstance(language, str) and language in MAIL_LANGUAGES else DEFAULT_MAIL_LANGUAGE


@dataclass(frozen=True, slots=True)
class Para:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Heading:
    text: str


@dataclass(frozen=True, slots=True)
class Items:
    lines: tuple[tuple[str, str], ...]  # (text, url)


Block = Para | Link | Heading | Items


class Writer:
    """Words in one language, and the parts of a mail written with them."""

    def __init__(self, language: str, timezone: str = "Europe/Paris") -> None:
        self.language = mail_language(language)
        self.timezone = timezone
        self._t = translations(self.language)

    def __call__(self, message: str, **values: object) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def moment(self, ms: int) -> str:
        return format_datetime(
            utc_datetime(ms), "medium", tzinfo=ZoneInfo(self.timezone), locale=_FORMAT_LOCALE[self.language]
        )


def render_text(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            out.append(block.text)
        elif isinstance(block, Heading):
            out.append(f"{block.text}\n{'-' * min(len(block.text), 72)}")
        elif isinstance(block, Link):
            out.append(f"{block.label}\n{block.url}")
        else:
            out.append("\n".join(f"* {text}\n  {url}" for text, url in block.lines))
    return "\n\n".join(out) + "\n"


def render_html(blocks: Sequence[Block], language: str) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            out.append("<p>" + html.escape(block.text).replace("\n", "<br>") + "</p>")
        elif isinstance(block, Heading):
            out.append(f'<h2 style="font-size:1.1em">{html.escape(block.text)}</h2>')
        elif isinstance(block, Link):
            out.append(f'<p><a href="{html.escape(block.url)}">{html.escape(block.label)}</a></p>')
        else:
            rows = "".join(
                f'<li><a href="{html.escape(url)}">{html.escape(text)}</a></li>' for text, url in block.lines
            )
            out.append(f"<ul>{rows}</ul>")
    body = "\n".join(out)
    return (
        f'<!doctype html>\n<html lang="{language}"><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif;line-height:1.5;max-width:40em">\n{body}\n</body></html>\n'
    )


def build_message(
    *,
    sender_name: str,
    sender_address: str,
    to: str,
    subject: str,
    blocks: Sequence[Block],
    language: str,
    now_ms: int,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A whole mail, text and HTML, with its Message-ID fixed now (the same one on every delivery attempt)."""
    message = EmailMessage()
    message["From"] = email.utils.formataddr((sender_name, sender_address))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(utc_datetime(now_ms))
    message["Message-ID"] = email.utils.make_msgid(domain=sender_address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(render_text(blocks))
    message.add_alternative(render_html(blocks, language), subtype="html")
    message["Content-Language"] = language  # after the parts: set_content drops the Content-* headers
    return message


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who the node's mails come from and where their links lead: the coop's name, address, URL, time zone."""

    coop_name: str
    sender_address: str
    base_url: str
    timezone: str = "Europe/Paris"

    def writer(self, language: str) -> Writer:
        return Writer(language, self.timezone)

    def url(self, path: str) -> str:
        return self.base_url + path

    def message(
        self,
        w: Writer,
        *,
        to: str,
        subject: str,
        blocks: Sequence[Block],
        now_ms: int,
        headers: Mapping[str, str] | None = None,
    ) -> EmailMessage:
        signature = Para(w(N_("The %(coop)s team, on Bigre"), coop=self.coop_name) + "\n" + self.base_url)
        return build_message(
            sender_name=self.coop_name,
            sender_address=self.sender_address,
            to=to,
            subject=subject,
            blocks=[*blocks, signature],
            language=w.language,
            now_ms=now_ms,
            headers=headers,
        )
