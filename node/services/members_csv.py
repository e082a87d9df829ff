"""Importing and exporting the coop's members as CSV.

Columns (a header row is required; the file may be UTF-8, with or without a byte-order mark, or Windows-1252, and
its separator a comma, a semicolon or a tab, all detected and named in the report; ``;`` separates the items of a
list cell, quoted in a semicolon-separated file): ``email`` and
``display_name`` (required), ``trades`` (ROME codes), ``skills``, ``languages`` (ISO 639), ``town``,
``postcode``, ``stage``, ``coop_status``, ``bio``, ``available_from``, ``available_until`` (YYYY-MM-DD),
``days_per_week`` (0-7), ``role`` (member by default, advisor or operator).

Every row is checked first; bad rows are reported with their line number and reasons. Then every good row is
written in one transaction: all of them or, if anything fails on the way, none. Imported members get an
invitation token each and the conservative default visibility (nothing leaves the node until they choose).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TextIO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from node.clock import Clock
from node.errors import InvalidInput
from node.records.publisher import Publisher, new_record_id
from node.reference.data import Reference
from node.search.documents import SearchDocuments
from node.search.index import store_documents
from node.services import profiles
from node.services.accounts import EMAIL_RE, Accounts, token_hash
from node.services.accounts import new_token as new_secret
from node.storage.database import Database
from node.storage.models import Account, Invitation, MemberProfile
from node.viewer import ROLES

log = logging.getLogger(__name__)

COLUMNS: Final = (
    "email",
    "display_name",
    "trades",
    "skills",
    "languages",
    "town",
    "postcode",
    "stage",
    "coop_status",
    "bio",
    "available_from",
    "available_until",
    "days_per_week",
    "role",
)
REQUIRED: Final = ("email", "display_name")
BATCH: Final = 500
Progress = Callable[[str, int, int], None]


class ImportTarget(Protocol):
    """What an import writes through: the node's database, clock, accounts, publisher and reference data (the
    composition root's node provides them)."""

    @property
    def db(self) -> Database: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def accounts(self) -> Accounts: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def reference(self) -> Reference: ...
    @property
    def search_documents(self) -> SearchDocuments: ...


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    email: str
    reasons: tuple[str, ...]


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    invitations: list[tuple[str, str]] = field(default_factory=list)  # (email, token)
    dry_run: bool = False
    encoding: str = "UTF-8"  # what the file was read as
    delimiter: str = "comma"


@dataclass(slots=True)
class _GoodRow:
    line: int
    email: str
    role: str
    fields: dict[str, Any]


DELIMITERS: Final = (",", ";", "\t")
DELIMITER_NAMES: Final = {",": "comma", ";": "semicolon", "\t": "tab"}


@dataclass(frozen=True, slots=True)
class CsvFile:
    """A members file as read: its header, its rows with their line numbers, and how it was read."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    encoding: str  # "UTF-8" or "Windows-1252"
    delimiter: str


def decode(data: bytes) -> tuple[str, str]:
    """The text of a members file and the encoding it was in: UTF-8 (with or without the byte-order mark a
    spreadsheet adds) or, failing that, Windows-1252 — what French Excel writes by default."""
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"the file is neither UTF-8 nor Windows-1252 text (byte {utf8_error.start}); save it as CSV UTF-8"
            ) from exc


def sniff_delimiter(first_line: str) -> str:
    """The separator of the header line: the one that splits it into the most known column names (a comma for
    most exports, a semicolon for French Excel, a tab for pasted spreadsheets)."""

    def known(d: str) -> int:
        return sum(1 for h in first_line.split(d) if h.strip().strip('"').lower() in COLUMNS)

    best = max(DELIMITERS, key=lambda d: (known(d), first_line.count(d)))
    return best if known(best) else ","


def read_csv(data: bytes) -> CsvFile:
    """The file's header and (line number, row) pairs. Unreadable input raises :class:`InvalidInput` naming why."""
    text, encoding = decode(data)
    if "\x00" in text:
        raise InvalidInput("the file holds NUL bytes: it is not a CSV text file")
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the file is empty: a header row is required")
        header = [h.strip().lower() for h in header]
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            raise InvalidInput(
                f"unknown columns: {', '.join(repr(h) for h in unknown[:10])}; expected some of {', '.join(COLUMNS)}"
            )
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InvalidInput(f"missing required columns: {', '.join(missing)}")
        if len(set(header)) != len(header):
            raise InvalidInput("a column appears twice in the header")
        rows: list[tuple[int, dict[str, str]]] = []
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                rows.append((line, {"__error__": f"has {len(values)} cells, the header has {len(header)}"}))
                continue
            rows.append((line, dict(zip(header, (v.strip() for v in values), strict=True))))
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV ({exc})") from exc
    return CsvFile(header, rows, encoding, delimiter)


def _items(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def check_row(row: dict[str, str], services: ImportTarget) -> tuple[_GoodRow | None, list[str]]:
    reasons: list[str] = []
    if "__error__" in row:
        return None, [row["__error__"]]
    email = row.get("email", "").strip().lower()
    if not EMAIL_RE.match(email):
        reasons.append("email: not an e-mail address")
    role = row.get("role", "").strip() or "member"
    if role not in ROLES:
        reasons.append(f"role: must be one of {', '.join(ROLES)}")
    fields: dict[str, Any] = {"display_name": row.get("display_name", "")}
    for name in ("trades", "skills", "languages"):
        if row.get(name):
            fields[name] = _items(row[name])
    if row.get("town") or row.get("postcode"):
        fields["place"] = {"town": row.get("town", ""), "postcode": row.get("postcode", "")}
    for name in ("stage", "coop_status", "bio"):
        if row.get(name):
            fields[name] = row[name]
    availability: dict[str, Any] = {}
    for column, key in (("available_from", "from"), ("available_until", "until")):
        if row.get(column):
            try:
                dt.date.fromisoformat(row[column])
                availability[key] = row[column]
            except ValueError:
                reasons.append(f"{column}: not a date YYYY-MM-DD")
    if availability.get("from") and availability.get("until") and availability["from"] > availability["until"]:
        reasons.append("available_until: is before available_from")
    if row.get("days_per_week"):
        days = row["days_per_week"]
        if days.isdigit() and 0 <= int(days) <= 7:
            availability["days_per_week"] = int(days)
        else:
            reasons.append("days_per_week: must be an integer from 0 to 7")
    if availability:
        fields["availability"] = availability
    try:
        checked = profiles.check_fields(fields, services.reference)
    except InvalidInput as exc:
        names = {"place": "town/postcode", "availability": "availability"}
        reasons += [f"{names.get(k, k)}: {v}" for k, v in sorted(exc.fields.items())]
        checked = {}
    if reasons:
        return None, reasons
    return _GoodRow(0, email, role, {k: v for k, v in checked.items() if v is not None}), []


async def import_members(
    services: ImportTarget, data: bytes, *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Check every row, then write all good rows in one transaction (or none on any failure)."""
    read = read_csv(data)
    rows = read.rows
    report = ImportReport(
        rows=len(rows), dry_run=dry_run, encoding=read.encoding, delimiter=DELIMITER_NAMES[read.delimiter]
    )
    good: list[_GoodRow] = []
    first_line: dict[str, int] = {}
    for i, (line, row) in enumerate(rows, 1):
        checked, reasons = check_row(row, services)
        if checked is not None:
            if checked.email in first_line:
                reasons = [f"email: duplicate of line {first_line[checked.email]}"]
            else:
                first_line[checked.email] = line
                checked.line = line
                good.append(checked)
        if reasons:
            report.errors.append(RowError(line, row.get("email", ""), tuple(reasons)))
        if progress and (i % BATCH == 0 or i == len(rows)):
            progress("checked", i, len(rows))
    async with services.db.read() as session:
        existing: set[str] = set()
        emails = [g.email for g in good]
        for start in range(0, len(emails), BATCH):
            chunk = emails[start : start + BATCH]
            existing.update((await session.scalars(select(Account.email).where(Account.email.in_(chunk)))).all())
    if existing:
        for g in good:
            if g.email in existing:
                report.errors.append(RowError(g.line, g.email, ("email: an account with this e-mail already exists",)))
        good = [g for g in good if g.email not in existing]
    report.errors.sort(key=lambda e: e.line)
    if dry_run or not good:
        report.imported = 0 if dry_run else len(good)
        return report
    await _write(services, good, report, progress)
    report.imported = len(good)
    log.info("imported %d members (%d rows refused)", len(good), len(report.errors))
    return report


async def _write(services: ImportTarget, good: list[_GoodRow], report: ImportReport, progress: Progress | None) -> None:
    now = services.clock()
    ttl = services.accounts.invitation_ttl_ms
    origin = services.publisher.origin
    search_documents = services.search_documents
    visibility = profiles.default_visibility()
    async with services.db.write() as session:
        for start in range(0, len(good), BATCH):
            chunk = good[start : start + BATCH]
            ids = (
                await session.execute(
                    insert(Account).returning(Account.id, Account.email),
                    [
                        {
                            "email": g.email,
                            "display_name": g.fields["display_name"],
                            "role": g.role,
                            "password_hash": None,
                            "created_at": now,
                            "disabled": False,
                        }
                        for g in chunk
                    ],
                )
            ).all()
            by_email = {email: account_id for account_id, email in ids}
            profile_rows, invitation_rows, search_rows = [], [], []
            for g in chunk:
                account_id = by_email[g.email]
                record_id = new_record_id()
                profile_rows.append(
                    {
                        "account_id": account_id,
                        "record_id": record_id,
                        "data": g.fields,
                        "visibility": visibility,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                token = new_secret()
                report.invitations.append((g.email, token))
                invitation_rows.append(
                    {
                        "token_hash": token_hash(token),
                        "account_id": account_id,
                        "role": g.role,
                        "created_at": now,
                        "expires_at": now + ttl,
                        "used_at": None,
                    }
                )
                search_rows += search_documents.own(
                    "profile", origin, record_id, profiles.search_bodies(g.fields, visibility), now
                )
            await session.execute(insert(MemberProfile), profile_rows)
            await session.execute(insert(Invitation), invitation_rows)
            if search_rows:
                await session.run_sync(_store_documents, search_rows)
            if progress:
                progress("imported", min(start + BATCH, len(good)), len(good))


def _store_documents(session: Session, rows: list[dict[str, Any]]) -> None:
    store_documents(session.connection(), rows)


def export_members(services_rows: Iterable[tuple[Account, MemberProfile]], out: TextIO) -> int:
    """Write members as CSV in the import format: account data and the fields visible to the coop (never a
    field the member keeps private)."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for account, profile in services_rows:
        data = profiles.visible_fields(profile.data, profile.visibility, "coop")
        place = data.get("place") or {}
        availability = data.get("availability") or {}
        writer.writerow(
            [
                account.email,
                data.get("display_name", account.display_name),
                ";".join(t["rome"] for t in data.get("trades", ())),
                ";".join(data.get("skills", ())),
                ";".join(data.get("languages", ())),
                place.get("town", ""),
                place.get("postcode", ""),
                data.get("stage", ""),
                data.get("coop_status", ""),
                data.get("bio", ""),
                availability.get("from", ""),
                availability.get("until", ""),
                availability.get("days_per_week", ""),
                account.role,
            ]
        )
        count += 1
    return count


async def members_to_export(db: Database) -> list[tuple[Account, MemberProfile]]:
    """Every account with its profile, in account order (what :func:`export_members` writes)."""
    async with db.read() as session:
        result = await session.execute(
            select(Account, MemberProfile)
            .join(MemberProfile, MemberProfile.account_id == Account.id)
            .order_by(Account.id)
        )
        return [(a, p) for a, p in result.all()]
