"""How the node logs: one line per event, with the request it belongs to, as text or JSON, at the level the
operator chose.

A request id lives in a context variable for the time of a request (set by the API's middleware from a sane
``X-Request-Id`` or a fresh one, and sent back in the response); a logging filter puts it on every record, so
a line written deep in a service still names its request. Outside a request the id is ``-``.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import sys
from typing import Final, TextIO

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: Final[contextvars.ContextVar[str]] = contextvars.ContextVar("bigre_request_id", default="-")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS: Final = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
LEVELS: Final = ("debug", "info", "warning", "error")
FORMATS: Final = ("text", "json")
#: libraries that log one line per request, per scheduled run or per migration: quiet unless debugging
NOISY: Final = ("aiohttp.access", "apscheduler", "alembic", "sqlalchemy")


def new_request_id() -> str:
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """(Re)configure the root logger: one handler on stderr, the request id on every line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    formatter: logging.Formatter = (
        JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger", "asctime": "time"})
        if fmt == "json"
        else logging.Formatter(TEXT_FORMAT)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
