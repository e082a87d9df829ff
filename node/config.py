"""A node is one folder: ``node.json`` (its configuration), ``keys/`` (its private key) and, by default, its
SQLite database ``node.sqlite3``.

Settings are declared once in :data:`SETTINGS` (name, default, help); the CLI and the docs use that table.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from node.errors import ConfigError
from node.keyfile import KEY_DIR_NAME, load_signing_key, write_key
from protocol import SigningKey

CONFIG_FILE: Final = "node.json"
DATABASE_FILE: Final = "node.sqlite3"
NAME_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\Z")
URL_RE: Final = re.compile(r"https?://[^\s/]+(?:/\S*)?\Z")

SETTINGS: Final[tuple[tuple[str, object, str], ...]] = (
    ("name", None, "the node's short name, also its origin name in the network (e.g. coopaname)"),
    ("display_name", None, "the coop's name as people read it (defaults to the short name)"),
    ("url", None, "the node's public base URL, e.g. https://bigre.coopaname.coop"),
    ("database_url", None, "SQLAlchemy URL; default sqlite+aiosqlite:///<dir>/node.sqlite3"),
    ("host", "127.0.0.1", "address `bigre serve` listens on"),
    ("port", 8400, "port `bigre serve` listens on"),
    ("key_id", None, "id of the current signing key (keys/<key_id>.pem); set by `bigre init`"),
    ("max_body_bytes", 262_144, "largest accepted request body"),
    (
        "trades_file",
        None,
        "a CSV of trades in the columns of node/data/trades.csv, added to (or overriding) the shipped ones",
    ),
    ("trusted_proxies", [], 'addresses of reverse proxies whose X-Forwarded-For names the client, e.g. ["127.0.0.1"]'),
)


@dataclass(frozen=True, slots=True)
class NodeConfig:
    directory: Path
    name: str
    display_name: str
    url: str
    database_url: str
    key_id: str
    host: str = "127.0.0.1"
    port: int = 8400
    max_body_bytes: int = 262_144
    trusted_proxies: tuple[str, ...] = ()
    trades_file: str | None = None

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
        data = asdict(self)
        data.pop("directory")
        return data


def default_database_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory.resolve() / DATABASE_FILE}"


def validate_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ConfigError(
            f"node name {name!r} is invalid: use 1 to 32 lowercase letters, digits and inner hyphens (e.g. coopaname)"
        )
    return name


def validate_url(url: str) -> str:
    if not URL_RE.match(url):
        raise ConfigError(f"node URL {url!r} is invalid: expected http(s)://host[/path]")
    return url.rstrip("/")


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
    if not 0 < port < 65_536:
        raise ConfigError(f"port {port} is out of range")
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
        database_url=database_url or default_database_url(directory),
        key_id=key.kid,
        host=host,
        port=port,
    )
    tmp = directory / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(config.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(directory / CONFIG_FILE)
    return config


def load_config(directory: Path) -> NodeConfig:
    """Read ``node.json``; every problem is a :class:`ConfigError` naming the file and the field."""
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
    known = {name for name, _, _ in SETTINGS}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(unknown)}")
    for required in ("name", "url", "key_id"):
        if not isinstance(raw.get(required), str):
            raise ConfigError(f"{path}: setting {required!r} is missing or not a string")
    port = raw.get("port", 8400)
    max_body = raw.get("max_body_bytes", 262_144)
    if not isinstance(port, int) or not isinstance(max_body, int):
        raise ConfigError(f"{path}: port and max_body_bytes must be integers")
    trades_file = raw.get("trades_file")
    if trades_file is not None and not isinstance(trades_file, str):
        raise ConfigError(f"{path}: trades_file must be a path")
    if trades_file is not None and not (directory / trades_file).is_file():
        raise ConfigError(f"{path}: trades_file {trades_file!r} is not a file")
    proxies = raw.get("trusted_proxies", [])
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        raise ConfigError(f"{path}: trusted_proxies must be a list of IP addresses")
    for proxy in proxies:
        try:
            ipaddress.ip_address(proxy)
        except ValueError as exc:
            raise ConfigError(f"{path}: trusted_proxies: {proxy!r} is not an IP address") from exc
    return NodeConfig(
        directory=directory,
        name=validate_name(raw["name"]),
        display_name=str(raw.get("display_name") or raw["name"]),
        url=validate_url(raw["url"]),
        database_url=str(raw.get("database_url") or default_database_url(directory)),
        key_id=raw["key_id"],
        host=str(raw.get("host", "127.0.0.1")),
        port=port,
        max_body_bytes=max_body,
        trusted_proxies=tuple(proxies),
        trades_file=trades_file,
    )
