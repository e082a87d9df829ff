"""The exceptions of the ``node`` package.

Every error a member, an operator or a client can cause is a :class:`NodeError` with a stable ``code`` (used in
the JSON error body and in the CLI's messages) and the HTTP ``status`` to answer with. Foreign exceptions
(SQLAlchemy, aiohttp, protocol) are translated at the boundary with ``raise ... from exc``.

    NodeError                      root of everything this package raises on purpose                500
    +-- InvalidInput               "invalid_input": the request is wrong; carries per-field errors    422
    +-- BadRequest                 "bad_request": unreadable request (not JSON, bad cursor...)        400
    +-- NotAuthenticated           "not_authenticated": no valid session or token                     401
    +-- Forbidden                  "forbidden": authenticated, but not allowed                        403
    +-- NotFound                   "not_found": no such thing (or not visible to the viewer)          404
    +-- Conflict                   "conflict": clashes with the current state (duplicate, full...)   409
    +-- TooManyAttempts            "too_many_attempts": login throttled; carries retry_after (s)      429
    +-- Unavailable                "unavailable": the database is busy or unreachable                 503
    +-- ConfigError                "config": the node folder or its configuration is unusable         500
"""

from __future__ import annotations

from collections.abc import Mapping


class NodeError(Exception):
    code = "internal"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidInput(NodeError):
    code = "invalid_input"
    status = 422

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})

    def to_json(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}

    @classmethod
    def field(cls, name: str, why: str) -> InvalidInput:
        return cls(f"{name}: {why}", {name: why})


class BadRequest(NodeError):
    code = "bad_request"
    status = 400


class NotAuthenticated(NodeError):
    code = "not_authenticated"
    status = 401


class Forbidden(NodeError):
    code = "forbidden"
    status = 403


class NotFound(NodeError):
    code = "not_found"
    status = 404


class Conflict(NodeError):
    code = "conflict"
    status = 409


class TooManyAttempts(NodeError):
    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(NodeError):
    code = "unavailable"
    status = 503


class ConfigError(NodeError):
    code = "config"
    status = 500
