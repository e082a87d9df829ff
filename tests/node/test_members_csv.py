"""CSV import and export of members, on both backends."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from node.compose import Node
from node.errors import InvalidInput
from node.services.members_csv import COLUMNS, export_members, import_members
from node.storage.models import Account, Invitation, LogEntry, MemberProfile

HEADER = ",".join(COLUMNS)


def _row(i: int) -> str:
    return (
        f"member{i}@example.org,Membre {i},H2206;E1205,menuiserie;design,fr;en,Montreuil,93100,starting,cape,"
        f"Bio {i},2025-01-01,2025-12-31,{i % 8},member"
    )


async def _counts(services: Node) -> tuple[int, int, int, int]:
    async with services.db.read() as session:
        counts = [
            int(await session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Account, MemberProfile, Invitation, LogEntry)
        ]
    return counts[0], counts[1], counts[2], counts[3]


async def test_import_5000_rows_with_bad_rows(services: Node) -> None:
    lines = [HEADER]
    bad: dict[int, str] = {}
    for i in range(5000):
        line_no = len(lines) + 1
        if i % 500 == 7:
            lines.append(_row(i).replace("H2206", "Z0000"))
            bad[line_no] = "trades"
        elif i % 500 == 8:
            lines.append(_row(i).replace(f"member{i}@example.org", "not-an-email"))
            bad[line_no] = "email"
        elif i % 500 == 9:
            lines.append(_row(i).replace("starting", "retired"))
            bad[line_no] = "stage"
        elif i == 4999:
            lines.append(_row(0))  # a duplicate e-mail
            bad[line_no] = "duplicate"
        else:
            lines.append(_row(i))
    data = ("\n".join(lines) + "\n").encode()
    seen: list[tuple[str, int, int]] = []
    report = await import_members(services, data, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert {e.line for e in report.errors} == set(bad)
    for error in report.errors:
        assert bad[error.line] in " ".join(error.reasons)
    assert report.imported == 5000 - len(bad) == len(report.invitations)
    assert ("checked", 5000, 5000) in seen and seen[-1][0] == "imported"
    accounts, profiles, invitations, entries = await _counts(services)
    assert (accounts, profiles, invitations) == (report.imported,) * 3
    assert entries == 0  # default visibility: nothing leaves the node
    async with services.db.read() as session:
        emails = set((await session.scalars(select(Account.email))).all())
        profile = await session.scalar(select(MemberProfile).limit(1))
    assert emails == {f"member{i}@example.org" for i in range(5000) if len(HEADER) and (i + 2) not in bad}
    assert profile is not None and profile.data["place"]["town"] == "Montreuil"
    assert set(profile.visibility.values()) <= {"private", "coop"}
    # importing again: every row now clashes with an existing account, nothing is written
    again = await import_members(services, data)
    assert again.imported == 0 and len(again.errors) == 5000
    assert (await _counts(services))[0] == accounts


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        b"",
        b"email,display_name,favourite_colour\na@example.org,A,blue\n",
        b"display_name\nA\n",
        b"email,display_name\na@example.org,\x81\x8d\n",  # neither UTF-8 nor Windows-1252
    ],
)
async def test_garbage_leaves_the_database_unchanged(services: Node, data: bytes) -> None:
    before = await _counts(services)
    with pytest.raises(InvalidInput):
        await import_members(services, data)
    assert await _counts(services) == before


async def test_dry_run_writes_nothing_and_export_round_trips(services: Node) -> None:
    data = (HEADER + "\n" + _row(1) + "\n" + _row(2) + "\n").encode()
    report = await import_members(services, data, dry_run=True)
    assert report.errors == [] and report.imported == 0 and report.rows == 2
    assert (await _counts(services))[0] == 0
    await import_members(services, data)
    async with services.db.read() as session:
        rows = [
            (a, p)
            for a, p in (
                await session.execute(
                    select(Account, MemberProfile)
                    .join(MemberProfile, MemberProfile.account_id == Account.id)
                    .order_by(Account.id)
                )
            ).all()
        ]
    out = io.StringIO()
    assert export_members(rows, out) == 2
    exported = out.getvalue().splitlines()
    assert exported[0] == HEADER
    assert exported[1].startswith("member1@example.org,Membre 1,H2206;E1205,menuiserie;design,fr;en,Montreuil,93100")


FRENCH_EXCEL = (
    "email;display_name;town;trades;bio\r\n"
    'lea@coopaname.example;Léa Moulin;Saint-Denis;"H2206;G1602";Ébéniste, menuisière\r\n'
    "hervé@coopaname.example;Hervé Dupré;Montreuil;H2206;Créatrice d'œuvres\r\n"
)


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        (FRENCH_EXCEL.encode("cp1252"), "Windows-1252", "semicolon"),
        (FRENCH_EXCEL.encode("utf-8-sig"), "UTF-8", "semicolon"),
        (FRENCH_EXCEL.replace(";", "\t").replace('"H2206\tG1602"', '"H2206;G1602"').encode(), "UTF-8", "tab"),
        (
            FRENCH_EXCEL.replace(",", " et").replace(";", ",").replace('"H2206,G1602"', '"H2206;G1602"').encode(),
            "UTF-8",
            "comma",
        ),
    ],
)
async def test_files_from_french_offices_are_read(services: Node, data: bytes, encoding: str, delimiter: str) -> None:
    report = await import_members(services, data)
    assert (report.encoding, report.delimiter) == (encoding, delimiter)
    assert report.errors == [] and report.imported == 2
    async with services.db.read() as session:
        names = set(await session.scalars(select(Account.display_name)))
        lea = await session.scalar(select(MemberProfile).join(Account).where(Account.email == "lea@coopaname.example"))
    assert names == {"Léa Moulin", "Hervé Dupré"}
    assert lea is not None and [t["rome"] for t in lea.data["trades"]] == ["H2206", "G1602"]


async def test_a_file_in_no_known_encoding_is_refused_with_the_fix(services: Node) -> None:
    with pytest.raises(InvalidInput, match="neither UTF-8 nor Windows-1252"):
        await import_members(services, b"email,display_name\r\na@b.example,\x81\x8d\x8f\x90\r\n")
