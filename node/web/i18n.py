"""The pages' languages: gettext catalogs read at start, the language of a request, and formatting for it.

Words live in gettext catalogs, ``node/web/locales/<lang>/LC_MESSAGES/messages.po``, extracted from the
templates and the page modules by ``python -m scripts.i18n extract`` (Babel; ``messages.pot`` is the template a
translator starts from). The message ids are English. Every folder holding a catalog is a language the node
offers: adding Dutch is copying ``messages.pot`` to ``nl/LC_MESSAGES/messages.po`` and translating it, no code
changes (an entry left empty reads in English). Catalogs are compiled in memory when first used, so there is no
``.mo`` build step to forget.

The language of a request: ``?lang=``, then the ``bigre_lang`` cookie, then ``Accept-Language`` (q-values
honoured, ``fr-BE`` matching ``fr``), then French. Dates and times are shown in the node's time zone (the
``timezone`` setting, Europe/Paris by default), and numbers, amounts and relative times in the page's language
by Babel's CLDR data.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, format_timedelta, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from jinja2 import pass_context
from markupsafe import Markup

from node.clock import utc_datetime
from node.web.labels import LABELS, UNKNOWN

LOCALES: Final = Path(__file__).resolve().parent / "locales"
DOMAIN: Final = "messages"
DEFAULT_LANGUAGE: Final = "fr"
#: the CLDR locale used to format dates and numbers for a page language ("en" reads as British English: day
#: before month, 24-hour clock, as the network's members write it)
FORMAT_LOCALE: Final = {"en": "en_GB"}
_TAG: Final = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*")


@functools.lru_cache(maxsize=1)
def catalogs() -> dict[str, Translations]:
    """Every language with a catalog, compiled in memory (fuzzy entries left out, as ``msgfmt`` does)."""
    found: dict[str, Translations] = {}
    for po in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        code = po.parent.parent.name
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=code, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        found[code] = Translations(fp=buffer, domain=DOMAIN)
    return found


def languages() -> tuple[str, ...]:
    """The languages the pages are offered in: the default one first, then the others by code."""
    codes = sorted(catalogs())
    return tuple(sorted(codes, key=lambda c: (c != DEFAULT_LANGUAGE, c))) or (DEFAULT_LANGUAGE,)


def accepted(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most wanted first (q-values; ties keep their order;
    q=0 means "not this one")."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")[:30]):
        tag, *params = (p.strip() for p in part.split(";"))
        if not _TAG.fullmatch(tag):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, i, tag.lower()))
    return [tag for _, _, tag in sorted(ranked)]


def choose_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    offered = languages()
    for candidate in (query, cookie):
        if candidate in offered:
            return candidate
    for tag in accepted(accept):
        primary = tag.split("-")[0]
        if primary in offered:
            return primary
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in offered else offered[0]


def language_name(code: str, in_lang: str) -> str:
    """A language's name in ``in_lang`` ("néerlandais", "Dutch"), from CLDR; the code itself only if CLDR has no
    name for it (a made-up code from another node)."""
    try:
        name = Locale.parse(FORMAT_LOCALE.get(in_lang, in_lang)).languages.get(code)
    except (UnknownLocaleError, ValueError):
        name = None
    return name[:1].upper() + name[1:] if name else code


def own_name(code: str) -> str:
    """A language's name in itself ("Nederlands", "Français"), for the language switch."""
    return language_name(code, code)


@dataclass(frozen=True)
class Lang:
    """Everything a page needs to speak one language: its words and its formats, in the node's time zone."""

    code: str
    tz: ZoneInfo
    translations: Translations

    @functools.cached_property
    def locale(self) -> Locale:
        return Locale.parse(FORMAT_LOCALE.get(self.code, self.code))

    # --------------------------------------------------------------------------------------------- words

    def gettext(self, message: str) -> str:
        return str(self.translations.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(self.translations.ngettext(singular, plural, n))

    def pgettext(self, context: str, message: str) -> str:
        return str(self.translations.pgettext(context, message))

    def label(self, group: str, code: object) -> str:
        """The word for an enumeration's code (see :mod:`node.web.labels`); never the code itself."""
        found = LABELS.get(group, {}).get(str(code))
        context, message = found if found is not None else UNKNOWN
        return self.pgettext(context, message)

    def language(self, code: str) -> str:
        return language_name(code, self.code)

    # -------------------------------------------------------------------------------------------- formats

    def moment(self, ms: int) -> dt.datetime:
        """A node time (milliseconds since the epoch) in the node's time zone."""
        return utc_datetime(ms).astimezone(self.tz)

    def iso(self, ms: int) -> str:
        """For ``<time datetime>``: ``2026-12-07T18:23:00+01:00``."""
        return self.moment(ms).isoformat(timespec="seconds")

    def datetime(self, ms: int) -> str:
        """``7 décembre 2026, 18:23`` / ``7 December 2026, 18:23`` (minutes, never seconds)."""
        return f"{self.date(ms)}, {self.time(ms)}"

    def date(self, value: int | str | dt.date, size: str = "long") -> str:
        """A day, from node time or an ISO date string (``2027-03-01``): ``1 mars 2027``; a string that is not a
        date is shown as it is (text typed in a free field)."""
        if isinstance(value, int):
            day = self.moment(value).date()
        elif isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                return value
        else:
            day = value
        return format_date(day, size, locale=self.locale)

    def weekday(self, iso_day: int) -> str:
        """An ISO weekday's name (1 Monday .. 7 Sunday): ``mardi`` / ``Tuesday`` (opening hours)."""
        return str(get_day_names("wide", locale=self.locale)[(iso_day - 1) % 7])

    def time(self, ms: int) -> str:
        return format_time(self.moment(ms), "short", tzinfo=self.tz, locale=self.locale)

    def day_month(self, ms: int) -> tuple[str, str, str]:
        """The parts of an event's date block: day number, short month, weekday (``7``, ``déc.``, ``lun.``)."""
        moment = self.moment(ms)
        return (
            format_date(moment, "d", locale=self.locale),
            format_date(moment, "MMM", locale=self.locale),
            format_date(moment, "EEE", locale=self.locale),
        )

    def month(self, value: str) -> str:
        """``2027-03`` as ``mars 2027``."""
        try:
            first = dt.date.fromisoformat(value + "-01")
        except ValueError:
            return value
        return format_date(first, "LLLL y", locale=self.locale)

    def relative(self, ms: int, now_ms: int) -> str:
        """``il y a 3 heures`` / ``in 2 days``."""
        delta = dt.timedelta(milliseconds=ms - now_ms)
        return format_timedelta(delta, add_direction=True, threshold=1.0, locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def money(self, euros: float) -> str:
        """``1 250 €`` / ``€1,250``: whole euros without decimals."""
        pattern = None
        if float(euros).is_integer():
            standard = self.locale.currency_formats["standard"]
            pattern = standard.pattern.split(";")[0].replace("0.00", "0")
        return format_currency(euros, "EUR", format=pattern, currency_digits=pattern is None, locale=self.locale)

    # ------------------------------------------------------------------------------------------- jinja2

    def template_globals(self) -> dict[str, Any]:
        """``_``/``gettext``/``ngettext``/``pgettext`` as the i18n extension's new-style callables (variables by
        name, autoescaped), and the formatters."""
        return {
            "_": _new_style(self.gettext),
            "gettext": _new_style(self.gettext),
            "ngettext": _new_style_plural(self.ngettext),
            "pgettext": _new_style_context(self.pgettext),
            "label": self.label,
            "i18n": self,
        }


def _autoescape(context: Any, text: str) -> str:
    return Markup(text) if context.eval_ctx.autoescape else text  # noqa: S704 - our catalog; % escapes values


def _new_style(func: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def gettext(context: Any, message: str, /, **variables: Any) -> str:
        return _autoescape(context, func(message)) % variables

    return gettext


def _new_style_plural(func: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def ngettext(context: Any, singular: str, plural: str, num: int, /, **variables: Any) -> str:
        variables.setdefault("num", num)
        return _autoescape(context, func(singular, plural, num)) % variables

    return ngettext


def _new_style_context(func: Callable[[str, str], str]) -> Callable[..., str]:
    @pass_context
    def pgettext(context: Any, ctx: str, message: str, /, **variables: Any) -> str:
        return _autoescape(context, func(ctx, message)) % variables

    return pgettext


@functools.lru_cache(maxsize=64)
def lang_for(code: str, timezone: str) -> Lang:
    """The :class:`Lang` of a language in a time zone (built once per pair)."""
    found = catalogs().get(code)
    return Lang(code, ZoneInfo(timezone), found if found is not None else Translations())
