"""Print (or, with --write, refresh) the record-type tables of docs/PROTOCOL.md from protocol/records.py.

The tables live between the markers ``<!-- record-tables:start -->`` and ``<!-- record-tables:end -->``; a test fails
when they drift from the code, as datasette does for its settings.
"""

from __future__ import annotations

import sys
from pathlib import Path

from protocol.records import RECORD_TYPES, Field

DOC = Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md"
START, END = "<!-- record-tables:start -->", "<!-- record-tables:end -->"


def _rows(fields: tuple[Field, ...], prefix: str = "") -> list[str]:
    rows: list[str] = []
    for f in fields:
        name = f"{prefix}{f.name}"
        value = f.describe().replace("|", "\\|")
        rows.append(f"| `{name}` | {'yes' if f.required else ''} | {value} | {f.help} |")
        if f.kind == "map":
            rows.extend(_rows(f.fields, f"{name}."))
        elif f.kind == "list" and f.item is not None and f.item.kind == "map":
            rows.extend(_rows(f.item.fields, f"{name}[]."))
    return rows


def tables() -> str:
    out: list[str] = []
    for t in RECORD_TYPES.values():
        out.append(f"### `{t.name}` (version {t.version[0]}.{t.version[1]})")
        out.append("")
        if t.help:
            out.append(t.help[0].upper() + t.help[1:] + ".")
            out.append("")
        if t.direct:
            out.append("A direct record (section 8.1): seq 1, sent to `to_node` only, never in a log, never relayed.")
            out.append("")
        if t.fixed_id:
            out.append(f"The record id is always `{t.fixed_id}`.")
            out.append("")
        out.append("| field | required | value | notes |")
        out.append("|---|---|---|---|")
        out.extend(_rows(t.fields))
        out.append("")
    return "\n".join(out)


def refreshed(doc: str) -> str:
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{tables()}\n{END}{tail}"


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.write_text(refreshed(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(tables())
