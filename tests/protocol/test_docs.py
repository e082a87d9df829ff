"""docs/PROTOCOL.md must say what the code does: tables, error codes, constants."""

from __future__ import annotations

from pathlib import Path

from protocol.envelope import HEADER_FIELDS, MAX_ENVELOPE_BYTES, MAX_HEADER_BYTES, SIGNING_PREFIX
from protocol.errors import ERROR_CODES
from scripts import doc_tables

DOC = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")


def test_record_tables_match_the_code() -> None:
    assert doc_tables.refreshed(DOC) == DOC, "run: python -m scripts.doc_tables --write"


def test_every_error_code_is_documented_with_its_status() -> None:
    for code, cls in ERROR_CODES.items():
        assert f"| `{code}` |" in DOC
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{code}` |"))
        assert row.rstrip().endswith(f"| {cls.status} |"), row


def test_constants_are_documented() -> None:
    assert SIGNING_PREFIX == b"bigre-entry-v1\x00"
    assert "`bigre-entry-v1` followed by one zero byte" in DOC
    assert f"{MAX_ENVELOPE_BYTES:,}".replace(",", " ") in DOC
    assert f"{MAX_HEADER_BYTES:,}".replace(",", " ") in DOC
    for name in HEADER_FIELDS:
        assert f"| `{name}` |" in DOC
