"""The README's performance table from one ``make bench`` run: ``python -m bench.report RESULTS_FILE``.

Reads the rows the benchmarks wrote (:func:`bench.common.result`) and prints the markdown table to paste into the
"Performance" section of README.md, each figure with the load average at the time it was measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| measure (command) | result | target | met | load average |", "|---|---|---|---|---|"]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "—"}[row["met"]]  # type: ignore[index]
        lines.append(
            f"| {row['measure']} (`bench.{row['bench']}`) | {row['value']} | {row['target']} | {met} | {row['load']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.results.read_text(encoding="utf-8").splitlines() if line.strip()]
    first, last = (rows[0]["at"], rows[-1]["at"]) if rows else ("-", "-")
    print(f"Figures from one `make bench` run, {first} to {last} UTC:\n")
    print(table(rows))


if __name__ == "__main__":
    main()
