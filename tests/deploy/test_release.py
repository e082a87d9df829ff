"""The release practice of docs/install.md holds: the version in pyproject.toml has its dated CHANGELOG section.

A release is the tag ``vX.Y.Z`` on the commit that sets version ``X.Y.Z`` and dates its section; this catches a
version bumped without its changelog, or a changelog that lost its *Unreleased* section or its order.
"""

from __future__ import annotations

import datetime
import re
import tomllib

from .tools import REPO

HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)


def _sections() -> list[tuple[str, str | None]]:
    text = (REPO / "CHANGELOG.md").read_text()
    return [(m.group("version"), m.group("date")) for m in HEADING.finditer(text)]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_version_in_pyproject_has_its_dated_changelog_section() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    dated = dict(_sections())
    assert version in dated, f"CHANGELOG.md has no section ## [{version}] - YYYY-MM-DD"
    assert dated[version] is not None, f"the section of {version} has no date"


def test_the_changelog_starts_with_unreleased_then_releases_newest_first() -> None:
    sections = _sections()
    assert sections and sections[0] == ("Unreleased", None)
    releases = sections[1:]
    assert releases, "no release section"
    for version, date in releases:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
        assert date is not None, f"{version} has no date"
        datetime.date.fromisoformat(date)
    versions = [_key(v) for v, _ in releases]
    dates = [d or "" for _, d in releases]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)
    assert dates == sorted(dates, reverse=True)
