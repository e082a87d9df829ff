"""What every benchmark shares: the load average printed with each figure, and the rows of the README's table.

The machines these benchmarks run on are shared, so every figure is printed with the load average at the time
(``os.getloadavg``: 1, 5 and 15 minutes). ``make bench`` sets ``BIGRE_BENCH_RESULTS`` to a file; each benchmark
adds its table rows there with :func:`result`, and ``python -m bench.report`` turns that file into the markdown
table of the README's "Performance" section, so the table is always one run's output.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

RESULTS_ENV = "BIGRE_BENCH_RESULTS"


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, as printed beside every figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def result(bench: str, measure: str, value: str, target: str, met: bool | None) -> None:
    """One row of the README's table (when ``BIGRE_BENCH_RESULTS`` names a file): ``value`` as printed, the
    ``target`` as written, ``met`` None when there is none."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    row = {
        "bench": bench,
        "measure": measure,
        "value": value,
        "target": target,
        "met": met,
        "load": load_average(),
        "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
