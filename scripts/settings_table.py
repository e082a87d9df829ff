"""Print (or, with --write, refresh) the settings table of docs/operators.md from node/config.py's SETTINGS.

The table lives between ``<!-- settings-table:start -->`` and ``<!-- settings-table:end -->``; a test fails when it
drifts from the code, so a setting cannot exist without its line in the operator guide.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from node.config import REQUIRED, SETTINGS, Setting

DOC = Path(__file__).resolve().parent.parent / "docs" / "operators.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def _default(setting: Setting) -> str:
    if setting.name in REQUIRED:
        return "(required)"
    if setting.default is None:
        return "(none)"
    value = list(setting.default) if isinstance(setting.default, tuple) else setting.default
    return f"`{json.dumps(value)}`"


def table() -> str:
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        meaning = s.help.replace("|", "\\|")
        rows.append(f"| `{s.name}` | `{s.env}` | {_default(s)} | {meaning} |")
    return "\n".join(rows)


def refreshed(doc: str) -> str:
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.write_text(refreshed(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(table())
