"""A node is one folder: ``node.json`` (its configuration), ``keys/`` (its private keys) and, by default, its
SQLite database ``node.sqlite3``.

Every setting is declared once, in :data:`SETTINGS` (name, type, default, help): loading, validation, the
environment overrides, ``bigre init`` and the operator guide's table all come from it (a test keeps
docs/operators.md in step). Any setting may also be given as an environment variable ``BIGRE_<NAME>`` (upper
case), which wins over node.json: handy for a container or a test, never needed otherwise.

Paths in node.json are relative to the node folder, so a copied or restored folder reads its own database and
keys, never the original's.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from node.errors import ConfigError
from node.keyfile import KEY_DIR_NAME, load_signing_key, write_key
from node.logs import FORMATS as LOG_FORMATS
from node.logs import LEVELS as LOG_LEVELS
from protocol import SigningKey

CONFIG_FILE: Final = "node.json"
DATABASE_FILE: Final = "node.sqlite3"
ENV_PREFIX: Final = "BIGRE_"
NAME_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\Z")
URL_RE: Final = re.compile(r"https?://[^\s/]+(?:/\S*)?\Z")
SQLITE_PREFIX: Final = "sqlite+aiosqlite:///"


def _name(value: object) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError("use 1 to 32 lowercase letters, digits and inner hyphens (e.g. coopaname)")
    return value


def _url(value: object) -> str:
    if not isinstance(value, str) or not URL_RE.match(value):
        raise ValueError("expected http(s)://host[/path]")
    return value.rstrip("/")


def _database_url(value: object) -> str:
    text = _text(value)
    if not text.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        scheme = text.split(":", 1)[0]
        raise ValueError(
            f"{scheme!r} is not a driver the node can use: write sqlite+aiosqlite:///FILE or "
            "postgresql+asyncpg://USER:PASSWORD@HOST/DATABASE"
        )
    return text


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _port(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65_536:
        raise ValueError("must be an integer from 1 to 65535")
    return value


def _positive_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _fanout(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000:
        raise ValueError("must be an integer from 0 (every peer) to 1000")
    return value


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86_400:
        raise ValueError("must be a number of seconds above 0 and at most 86400")
    return float(value)


def _one_of(*choices: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return str(value)

    return check


def _flag(value: object) -> bool:
    if value in (True, False, 0, 1):
        return bool(value)
    raise ValueError("must be true or false (or 1 or 0)")


def _timezone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a time zone name such as Europe/Paris")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a time zone of the IANA database (such as Europe/Paris)") from exc
    return value


def _addresses(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        raise ValueError("must be a list of IP addresses")
    for item in value:
        try:
            ipaddress.ip_address(item)
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP address") from exc
    return tuple(value)


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of node.json: its name, how a value is checked, its default (None: required or derived)."""

    name: str
    check: Callable[[object], Any]
    default: object
    help: str
    env_json: bool = False  # an environment value is JSON (lists, numbers), not a plain string

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "name",
        _name,
        None,
        "short name, also the node's origin name in the network: 1–32 lowercase letters, digits and inner hyphens",
    ),
    Setting("display_name", _text, None, "the coop's name as people read it (defaults to the short name)"),
    Setting("url", _url, None, "public base URL, `http(s)://host`; with `https://`, cookies are marked Secure"),
    Setting(
        "database_url",
        _database_url,
        None,
        "SQLAlchemy URL: `sqlite+aiosqlite:///…` or `postgresql+asyncpg://user:password@host/db` "
        "(`postgresql+asyncpg://bigre@/bigre?host=/run/postgresql` over the local socket); default: `node.sqlite3` "
        "in the node folder; a relative SQLite path is relative to the node folder, so a copied folder reads its "
        "own database",
    ),
    Setting("host", _text, "127.0.0.1", "address `bigre serve` listens on"),
    Setting("port", _port, 8400, "port `bigre serve` listens on", env_json=True),
    Setting("key_id", _text, None, "id of the current signing key (keys/<key_id>.pem); set by `bigre init`"),
    Setting(
        "max_body_bytes",
        _positive_int,
        262_144,
        "largest request body the API and the pages accept (federation requests have their own 8 MiB limit)",
        env_json=True,
    ),
    Setting(
        "trades_file",
        _text,
        None,
        "a CSV in the columns of `node/data/trades.csv` (relative to the node folder): its rows add trades or "
        "replace the shipped ones by code (labels, synonyms, related trades), for the node's own records and for "
        "those received from other coops; re-read at start",
    ),
    Setting(
        "trusted_proxies",
        _addresses,
        (),
        'addresses of your reverse proxies (e.g. `["127.0.0.1"]` behind the nginx of `deploy/`): only from them is '
        "`X-Forwarded-For` believed, so login throttling and logs see each member's address instead of the proxy's",
        env_json=True,
    ),
    Setting(
        "anti_entropy_seconds",
        _seconds,
        30.0,
        "how often the node pulls from each peer what pushes may have missed",
        env_json=True,
    ),
    Setting(
        "pull_fanout",
        _fanout,
        3,
        "how many peers, drawn at random, each anti-entropy round pulls from (0: every peer; PROTOCOL.md, Fan-out)",
        env_json=True,
    ),
    Setting(
        "saved_search_seconds",
        _seconds,
        300.0,
        "how often saved searches are run again to notify their new matches",
        env_json=True,
    ),
    Setting(
        "timezone",
        _timezone,
        "Europe/Paris",
        "the time zone the pages show dates and times in, and read the times typed in forms (IANA name)",
    ),
    Setting(
        "metrics_from",
        _addresses,
        ("127.0.0.1", "::1"),
        "addresses that may read the Prometheus metrics at /metrics (default: this machine only)",
        env_json=True,
    ),
    Setting(
        "metrics_token",
        _text,
        None,
        "a secret that also lets a scraper elsewhere read /metrics, sent as `Authorization: Bearer <token>`",
    ),
    Setting("log_level", _one_of(*LOG_LEVELS), "info", "how much the node logs: debug, info, warning or error"),
    Setting(
        "log_format",
        _one_of(*LOG_FORMATS),
        "text",
        "text (one line per event) or json (one JSON object per line, for a log collector); every line names its "
        "request id",
    ),
    Setting(
        "check_responses",
        _flag,
        False,
        "check every JSON API answer against the OpenAPI document (status and schema); a mismatch becomes a "
        "logged 500. For tests and debugging: it costs a parse per answer",
        env_json=True,
    ),
)
SETTINGS_BY_NAME: Final = {s.name: s for s in SETTINGS}
REQUIRED: Final = ("name", "url", "key_id")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    directory: Path
    name: str
    display_name: str
    url: str
    key_id: str
    database_url: str | None = None  # None: node.sqlite3 in the folder
    host: str = "127.0.0.1"
    port: int = 8400
    max_body_bytes: int = 262_144
    trusted_proxies: tuple[str, ...] = ()
    trades_file: str | None = None
    anti_entropy_seconds: float = 30.0
    pull_fanout: int = 3
    saved_search_seconds: float = 300.0
    timezone: str = "Europe/Paris"
    metrics_from: tuple[str, ...] = ("127.0.0.1", "::1")
    metrics_token: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    check_responses: bool = False

    @property
    def database(self) -> str:
        """The database URL to connect to: SQLite paths resolved against the node folder."""
        return resolve_database_url(self.directory, self.database_url)

    @property
    def trades_path(self) -> Path | None:
        """The operator's trades file (relative paths are from the node folder), or None."""
        return None if self.trades_file is None else self.directory / self.trades_file

    @property
    def key_dir(self) -> Path:
        return self.directory / KEY_DIR_NAME

    def signing_key(self) -> SigningKey:
        return load_signing_key(self.key_dir, self.key_id)

    def to_json(self) -> dict[str, Any]:
        """What node.json holds: the settings that differ from their defaults, plus the required ones."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "directory":
                continue
            value = getattr(self, f.name)
            setting = SETTINGS_BY_NAME[f.name]
            if f.name in REQUIRED or f.name == "display_name" or value not in (None, setting.default):
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def resolve_database_url(directory: Path, url: str | None) -> str:
    """``url`` with a relative SQLite path made relative to the node folder; the default SQLite file if None."""
    if url is None:
        return SQLITE_PREFIX + str(directory.resolve() / DATABASE_FILE)
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX) :]
        if path and not path.startswith(("/", ":memory:")):
            return SQLITE_PREFIX + str(directory.resolve() / path)
    return url


def validate_name(name: str) -> str:
    try:
        return str(_name(name))
    except ValueError as exc:
        raise ConfigError(f"node name {name!r} is invalid: {exc}") from exc


def validate_url(url: str) -> str:
    try:
        return str(_url(url))
    except ValueError as exc:
        raise ConfigError(f"node URL {url!r} is invalid: {exc}") from exc


def create_node_dir(
    directory: Path,
    *,
    name: str,
    url: str,
    display_name: str | None = None,
    database_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8400,
    key: SigningKey | None = None,
) -> NodeConfig:
    """Create a node folder with its configuration and a fresh signing key. Never overwrites a node."""
    validate_name(name)
    url = validate_url(url)
    try:
        _port(port)
    except ValueError as exc:
        raise ConfigError(f"port {port} is out of range") from exc
    directory = directory.resolve()
    if (directory / CONFIG_FILE).exists():
        raise ConfigError(f"{directory} already holds a node ({CONFIG_FILE} exists)")
    directory.mkdir(parents=True, exist_ok=True)
    # The folder holds the database (private fields) and node.json (maybe a database password): owner only.
    directory.chmod(0o700)
    key = key or SigningKey.generate()
    write_key(directory / KEY_DIR_NAME, key)
    config = NodeConfig(
        directory=directory,
        name=name,
        display_name=display_name or name,
        url=url,
        database_url=database_url,
        key_id=key.kid,
        host=host,
        port=port,
    )
    save_config(config)
    return config


def save_config(config: NodeConfig) -> None:
    """Write ``node.json`` whole, through a temporary file (a crash leaves the old file or the new one)."""
    path = config.directory / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def environment_overrides(environ: Mapping[str, str]) -> dict[str, object]:
    """Settings given as ``BIGRE_<NAME>`` environment variables (JSON for numbers and lists)."""
    found: dict[str, object] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None:
            continue
        if setting.env_json:
            try:
                found[setting.name] = json.loads(raw)
            except ValueError as exc:
                raise ConfigError(f"environment variable {setting.env}={raw!r} is not a valid value") from exc
        else:
            found[setting.name] = raw
    return found


def load_config(directory: Path, environ: Mapping[str, str] | None = None) -> NodeConfig:
    """Read ``node.json`` (and ``BIGRE_*`` overrides); every problem is a :class:`ConfigError` naming the file
    (or variable) and the setting."""
    directory = directory.resolve()
    path = directory / CONFIG_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{directory} is not a node folder (no {CONFIG_FILE}); run `bigre init` first") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    unknown = sorted(set(raw) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(unknown)}")
    overrides = environment_overrides(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        where = f"environment variable {setting.env}" if setting.name in overrides else f"{path}: setting"
        value = overrides.get(setting.name, raw.get(setting.name))
        if value is None:
            if setting.name in REQUIRED:
                raise ConfigError(f"{path}: setting {setting.name!r} is missing")
            continue
        try:
            values[setting.name] = setting.check(value)
        except ValueError as exc:
            raise ConfigError(f"{where} {setting.name!r}: {exc}") from exc
    values.setdefault("display_name", values["name"])
    trades_file = values.get("trades_file")
    if trades_file is not None and not (directory / trades_file).is_file():
        raise ConfigError(f"{path}: trades_file {trades_file!r} is not a file")
    values["database_url"] = _own_database(path, directory, values.get("database_url"))
    return NodeConfig(directory=directory, **values)


def _own_database(path: Path, directory: Path, url: str | None) -> str | None:
    """Versions before 0.2 wrote the absolute path of the folder's own SQLite file into node.json: a copied or
    restored folder then read the ORIGINAL's database. Such a path to this folder's file becomes the default
    again; one to another folder's ``node.sqlite3`` while this folder has its own is refused, loudly."""
    if url is None or not url.startswith(SQLITE_PREFIX):
        return url
    target = Path(url[len(SQLITE_PREFIX) :])
    if not target.is_absolute():
        return url
    own = directory / DATABASE_FILE
    if target == own:
        return None
    if target.name == DATABASE_FILE and own.exists():
        raise ConfigError(
            f"{path}: database_url points to {target}, another folder's database, while this folder holds its own "
            f"{DATABASE_FILE} (a copied or restored node?): remove database_url from {CONFIG_FILE} to use it"
        )
    return url
