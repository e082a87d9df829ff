"""deploy/bigre@.service: ``systemd-analyze verify`` accepts it and ``systemd-analyze security`` rates it under 4.

systemd-analyze runs on a throwaway root (``--root``): the unit in etc/systemd/system as the install guide puts
it, this machine's own system units (the targets it depends on), and the ``bigre`` command where the guide
installs it (the real console script of this checkout's virtualenv: verify checks that ExecStart exists and is
executable). ``verify`` exits 0 on unknown keys and bad values, which it only prints: any output fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .tools import EXPOSURE, UNIT, require_tool

INSTANCE = "bigre@coopaname.service"
BIGRE = Path(sys.executable).parent / "bigre"
SYSTEM_UNITS = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None)


def unit_root(directory: Path, unit_text: str) -> Path:
    if SYSTEM_UNITS is None:
        pytest.skip("this machine has no systemd unit folder")
    root = directory / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system" / UNIT.name).write_text(unit_text)
    command = root / "opt/bigre/.venv/bin/bigre"
    command.parent.mkdir(parents=True)
    shutil.copy2(BIGRE, command)
    return root


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    tool = require_tool("systemd-analyze", "systemd")
    return subprocess.run(
        [tool, "verify", f"--root={root}", "--man=no", INSTANCE], capture_output=True, text=True, timeout=120
    )


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    result = verify(unit_root(tmp_path, UNIT.read_text()))
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip() == "", result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("ProtectSystem=strict", "ProtectSystm=strict"), "Unknown key"),
        (("UMask=0077", "UMask=077x"), "Failed to parse"),
        (("ExecStart=/opt/bigre/.venv/bin/bigre", "ExecStart=/opt/bigre/venv/bin/bigre"), "not executable"),
    ],
)
def test_the_check_catches_a_broken_unit(tmp_path: Path, change: tuple[str, str], complaint: str) -> None:
    """The same check fails on a typo, a bad value or a command that is not where the guide installs it."""
    old, new = change
    text = UNIT.read_text()
    assert text.count(old) == 1
    result = verify(unit_root(tmp_path, text.replace(old, new)))
    output = result.stdout + result.stderr
    assert output.strip() != ""
    assert complaint in output, output


def exposure(tmp_path: Path, unit_text: str) -> tuple[float, str]:
    tool = require_tool("systemd-analyze", "systemd")
    root = unit_root(tmp_path, unit_text)
    result = subprocess.run(
        [tool, "security", "--offline=true", f"--root={root}", "--no-pager", INSTANCE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = EXPOSURE.search(result.stdout)
    assert found, result.stdout
    return float(found.group(1)), result.stdout


def test_systemd_analyze_security_rates_the_unit_under_4(tmp_path: Path) -> None:
    level, report = exposure(tmp_path, UNIT.read_text())
    print(report)
    assert level < 4, report


def test_the_rating_reflects_the_hardening(tmp_path: Path) -> None:
    """Without its hardening section the same unit rates as exposed as the old one did (8.5)."""
    text = UNIT.read_text()
    start, end = text.index("# --- file system"), text.index("[Install]")
    level, report = exposure(tmp_path, text[:start] + text[end:])
    assert level > 8, report


def test_the_unit_runs_the_node_of_its_instance_as_the_guide_installs_it() -> None:
    settings = dict(line.split("=", 1) for line in UNIT.read_text().splitlines() if re.match(r"^[A-Za-z]+=", line))
    assert settings["ExecStart"] == "/opt/bigre/.venv/bin/bigre serve /srv/bigre/%i"
    assert settings["ReadWritePaths"] == "/srv/bigre/%i"  # the node's folder, and nothing else, is writable
    assert (settings["User"], settings["Group"], settings["UMask"]) == ("bigre", "bigre", "0077")
    assert settings["ProtectSystem"] == "strict"
