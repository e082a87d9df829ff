"""Settings: declared once (node/config.py), documented from the same table, overridable from the environment, and
paths that follow the node folder when it is copied or restored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from node.config import CONFIG_FILE, DATABASE_FILE, SETTINGS, create_node_dir, load_config
from node.errors import ConfigError
from scripts import settings_table


def test_the_operator_guide_lists_every_setting() -> None:
    doc = settings_table.DOC.read_text(encoding="utf-8")
    assert settings_table.refreshed(doc) == doc, "run: python -m scripts.settings_table --write"
    for setting in SETTINGS:
        assert f"`{setting.name}`" in doc and f"`{setting.env}`" in doc


def _node(tmp_path: Path, name: str = "coopaname") -> Path:
    create_node_dir(tmp_path / name, name=name, url="https://bigre.example")
    return tmp_path / name


def test_environment_overrides_win_and_are_checked(tmp_path: Path) -> None:
    directory = _node(tmp_path)
    assert load_config(directory, environ={}).anti_entropy_seconds == 30.0
    config = load_config(directory, environ={"BIGRE_ANTI_ENTROPY_SECONDS": "2", "BIGRE_TRUSTED_PROXIES": '["::1"]'})
    assert config.anti_entropy_seconds == 2.0 and config.trusted_proxies == ("::1",)
    with pytest.raises(ConfigError, match="BIGRE_PORT"):
        load_config(directory, environ={"BIGRE_PORT": "eighty"})
    assert load_config(directory, environ={}).pull_fanout == 3  # docs/PROTOCOL.md, "Fan-out"
    assert load_config(directory, environ={"BIGRE_PULL_FANOUT": "0"}).pull_fanout == 0  # every peer
    with pytest.raises(ConfigError, match="BIGRE_PULL_FANOUT"):
        load_config(directory, environ={"BIGRE_PULL_FANOUT": "-1"})
    with pytest.raises(ConfigError, match="BIGRE_TRUSTED_PROXIES"):
        load_config(directory, environ={"BIGRE_TRUSTED_PROXIES": '["not an address"]'})


def test_node_json_keeps_no_absolute_path_and_a_copy_reads_its_own_database(tmp_path: Path) -> None:
    original = _node(tmp_path)
    raw = json.loads((original / CONFIG_FILE).read_text(encoding="utf-8"))
    assert "database_url" not in raw  # the default: node.sqlite3 beside node.json
    (original / DATABASE_FILE).write_bytes(b"")
    copy = tmp_path / "restored"
    shutil.copytree(original, copy)
    assert load_config(copy).database == f"sqlite+aiosqlite:///{copy.resolve() / DATABASE_FILE}"


def test_an_old_absolute_path_is_taken_back_or_refused(tmp_path: Path) -> None:
    original = _node(tmp_path)
    raw = json.loads((original / CONFIG_FILE).read_text(encoding="utf-8"))
    raw["database_url"] = f"sqlite+aiosqlite:///{original.resolve() / DATABASE_FILE}"  # what versions < 0.2 wrote
    (original / CONFIG_FILE).write_text(json.dumps(raw), encoding="utf-8")
    assert load_config(original).database_url is None  # its own file: back to the default
    (original / DATABASE_FILE).write_bytes(b"")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    with pytest.raises(ConfigError, match="another folder's database"):
        load_config(copy)  # it would have read the original's live database


def test_a_relative_sqlite_path_is_relative_to_the_node_folder(tmp_path: Path) -> None:
    directory = _node(tmp_path)
    raw = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    raw["database_url"] = "sqlite+aiosqlite:///data/bigre.sqlite3"
    (directory / CONFIG_FILE).write_text(json.dumps(raw), encoding="utf-8")
    assert load_config(directory).database == f"sqlite+aiosqlite:///{directory.resolve() / 'data/bigre.sqlite3'}"
