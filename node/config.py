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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many

from node.errors import ConfigError
from node.keyfile import KEY_DIR_NAME, load_signing_key, write_key
from node.logs import FORMATS as LOG_FORMATS
from node.logs import LEVELS as LOG_LEVELS
from protocol import SigningKey

CONFIG_FILE: Final = "node.json"
DATABASE_FILE: Final = "node.sqlite3"
#: in the node folder while the node runs: removed at a clean stop, written by ``bigre restore`` (node.compose)
RUNNING_MARKER: Final = "running"
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


def _rate_limit(value: object) -> dict[str, str]:
    """``{"account": "20/minute", "address": "120/minute"}`` (either may be left out), in the notation of the
    ``limits`` library."""
    if not isinstance(value, dict) or not value or set(value) - {"account", "address"}:
        raise ValueError('must be an object {"account": "N/period", "address": "N/period"} (either may be left out)')
    for scope, text in value.items():
        try:
            if not isinstance(text, str) or not parse_many(text):
                raise ValueError(text)
        except ValueError as exc:
            raise ValueError(f"{scope}: {text!r} is not a limit such as 20/minute or 20/minute;200/day") from exc
    return dict(value)


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """Sign-in with the coop's identity provider (OpenID Connect): its issuer URL, and this node's client id and
    secret there. The secret is kept out of ``repr`` (so out of logs and tracebacks)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    label: str = ""  # the provider's name on the sign-in button; empty: "your cooperative's account"
    scopes: str = "openid email profile"

    def to_json(self) -> dict[str, str]:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "label": self.label,
            "scopes": self.scopes,
        }


def _oidc(value: object) -> OidcSettings:
    if not isinstance(value, dict):
        raise ValueError('must be an object {"issuer": "https://…", "client_id": "…", "client_secret": "…"}')
    unknown = sorted(set(value) - {"issuer", "client_id", "client_secret", "label", "scopes"})
    if unknown:
        raise ValueError(f"unknown keys {', '.join(unknown)}")
    for key in ("issuer", "client_id", "client_secret"):
        if not isinstance(value.get(key), str) or not value[key].strip():
            raise ValueError(f"{key} is required (a non-empty string)")
    _url(value["issuer"])
    for key in ("label", "scopes"):
        if key in value and (not isinstance(value[key], str) or not value[key].strip()):
            raise ValueError(f"{key} must be a non-empty string")
    if "openid" not in str(value.get("scopes", "openid")).split():
        raise ValueError("scopes must include openid")
    return OidcSettings(**{k: v.strip() for k, v in value.items()})


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


# rate limits (issue 15): per account and per client address, moving windows
RATE_LIMITS: Final[dict[str, dict[str, str]]] = {
    "messages": {"account": "20/minute;200/day", "address": "120/minute"},
    "invitations": {"account": "60/hour", "address": "300/hour"},
    "searches": {"account": "60/minute", "address": "600/minute"},
    "writes": {"account": "120/minute", "address": "1200/minute"},
}
_RATE_HELP: Final = {
    "messages": "messages sent (to members here or at other coops), API and pages",
    "invitations": "invitations and password reset links made by operators, API and pages",
    "searches": "searches (the search page and `GET /api/v1/search`), signed in or not",
    "writes": "every other change through the JSON API (POST, PUT, PATCH, DELETE) by a signed-in account",
}

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
        "own_log_wait_seconds",
        _seconds,
        60.0,
        "at start, how long the node waits for each peer to say how much of the node's own log it holds before "
        "it signs anything new (a node restored from an old backup takes back what its peers hold of it first); "
        "a peer still silent after that is not waited for",
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
    # ---- outgoing e-mail (invitations, password resets, notifications): see docs/operators.md, "E-mail"
    Setting(
        "smtp_host",
        _text,
        None,
        "the coop's SMTP server (e.g. `smtp.coopaname.coop`); without it, mails wait in the queue, unsent",
    ),
    Setting(
        "smtp_port", _port, 587, "its port: 587 with STARTTLS, 465 with TLS, 25 inside a trusted network", env_json=True
    ),
    Setting(
        "smtp_security",
        _one_of("starttls", "tls", "none"),
        "starttls",
        "`starttls` (upgrade a plain connection, required), `tls` (TLS from the start, port 465) or `none` (a relay "
        "on this machine only)",
    ),
    Setting("smtp_username", _text, None, "the SMTP account's user name, if the server asks for one"),
    Setting(
        "smtp_password",
        _text,
        None,
        "its password (better given as the environment variable BIGRE_SMTP_PASSWORD); never logged nor shown",
    ),
    Setting(
        "mail_from",
        _text,
        None,
        "the sender address of the node's mails (default: `noreply@` the host of `url`); the coop's name is shown "
        "with it",
    ),
    Setting(
        "mail_seconds",
        _seconds,
        10.0,
        "how often the mail queue is sent (a failed mail is retried later, with a growing wait)",
        env_json=True,
    ),
    Setting(
        "oidc",
        _oidc,
        None,
        "sign-in with the coop's identity provider (OpenID Connect: Nextcloud, Keycloak…), optional: "
        '`{"issuer": "https://…", "client_id": "…", "client_secret": "…", "label": "…"}`; accounts are matched by '
        "verified e-mail address; see [sign-in with the coop's accounts](#sign-in-with-the-coops-accounts)",
        env_json=True,
    ),
    *(
        Setting(
            f"rate_limit_{kind}",
            _rate_limit,
            default,
            f"most {_RATE_HELP[kind]} per account and per client address, in a moving window (`N/second`, "
            "`N/minute`, `N/hour`, `N/day`; several joined by `;`); past it: 429 with `Retry-After`",
            env_json=True,
        )
        for kind, default in RATE_LIMITS.items()
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
    own_log_wait_seconds: float = 60.0
    pull_fanout: int = 3
    saved_search_seconds: float = 300.0
    timezone: str = "Europe/Paris"
    metrics_from: tuple[str, ...] = ("127.0.0.1", "::1")
    metrics_token: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    check_responses: bool = False
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # a secret: never in a repr, a log or an error
    mail_from: str | None = None
    mail_seconds: float = 10.0

    @property
    def sender_address(self) -> str:
        """The address the node's mails come from: ``mail_from``, else ``noreply@`` the host of ``url``."""
        if self.mail_from:
            return self.mail_from
        host = self.url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        return f"noreply@{host}"

    oidc: OidcSettings | None = None
    rate_limit_messages: dict[str, str] = field(default_factory=lambda: dict(RATE_LIMITS["messages"]))
    rate_limit_invitations: dict[str, str] = field(default_factory=lambda: dict(RATE_LIMITS["invitations"]))
    rate_limit_searches: dict[str, str] = field(default_factory=lambda: dict(RATE_LIMITS["searches"]))
    rate_limit_writes: dict[str, str] = field(default_factory=lambda: dict(RATE_LIMITS["writes"]))

    @property
    def rate_limits(self) -> dict[str, dict[str, str]]:
        """The rate limits by kind (see :mod:`node.services.rate_limits`)."""
        return {kind: getattr(self, f"rate_limit_{kind}") for kind in RATE_LIMITS}

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
                if isinstance(value, OidcSettings):
                    out[f.name] = value.to_json()
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
    if database_url is not None:
        try:
            database_url = _database_url(database_url)
        except ValueError as exc:
            raise ConfigError(f"--database-url: {exc}") from exc
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
    if target.name == DATABASE_FILE and not target.parent.exists():
        raise ConfigError(
            f"{path}: database_url points to {target}, in a folder that does not exist here (a node folder moved "
            f"from another server?): remove database_url from {CONFIG_FILE} to use this folder's own {DATABASE_FILE}"
        )
    if target.name == DATABASE_FILE and own.exists():
        raise ConfigError(
            f"{path}: database_url points to {target}, another folder's database, while this folder holds its own "
            f"{DATABASE_FILE} (a copied or restored node?): remove database_url from {CONFIG_FILE} to use it"
        )
    return url
