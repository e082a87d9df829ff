"""The JSON API's shared value types and shapes, as pydantic types: one definition validates a value at the edge
and describes it in the OpenAPI document (:mod:`node.http.openapi`).

Identifiers reuse the protocol's patterns (a record id, a node's name); path parameters get their type from
:data:`PATH_PARAMS` by name, so ``{account_id}`` is an integer wherever it appears.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from protocol.envelope import KID_RE, ORIGIN_RE, RECORD_ID_RE

DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 200


def anchored(pattern: str) -> str:
    """A protocol pattern (matched whole, ``\\Z``-terminated in Python) as a JSON Schema / Rust regex pattern,
    which both search anywhere unless anchored."""
    return "^(?:" + pattern.removesuffix(r"\Z") + ")$"


def _calendar_date(value: str) -> str:
    dt.date.fromisoformat(value)  # ValueError -> a validation error naming the field
    return value


def _json_integer(value: Any) -> Any:
    """JSON has one number type: ``1.0`` is the integer 1 (as JSON Schema says), ``1.5`` is no integer."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_json_integer)]
"""An integer in a request body: strictly a JSON number (never "15"), integral (1.0 counts, 1.5 does not)."""


def integer(lo: int, hi: int, description: str | None = None) -> Any:
    """:data:`Int` within ``lo..hi`` (the bounds first, so the schema says ``minimum`` and ``maximum``)."""
    return Annotated[int, Field(ge=lo, le=hi, description=description), BeforeValidator(_json_integer)]


RecordId = Annotated[
    str, StringConstraints(pattern=anchored(RECORD_ID_RE.pattern)), Field(description="a record id", max_length=64)
]
Origin = Annotated[
    str,
    StringConstraints(pattern=anchored(ORIGIN_RE.pattern)),
    Field(description="a node's name (a coop of the network)", max_length=32),
]
Ref = Annotated[str, Field(description="origin/id of a record", max_length=97)]
Kid = Annotated[str, StringConstraints(pattern=anchored(KID_RE.pattern)), Field(description="a signing key's id")]
Ms = integer(0, 2**53 - 1, "milliseconds since the Unix epoch")
Date = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    AfterValidator(_calendar_date),
    Field(json_schema_extra={"format": "date"}),
]
AccountId = integer(1, 2**63 - 1, "an account of this node")
SearchId = integer(1, 2**63 - 1, "one of my saved searches")
MailId = integer(1, 2**63 - 1, "a mail of the outgoing queue")
Role = Literal["member", "advisor", "operator"]
Level = Literal["private", "coop", "network", "public"]
Cursor = Annotated[str, Field(max_length=40, description="opaque: the next_cursor of the previous page")]

PATH_PARAMS: Final[dict[str, Any]] = {
    "id": RecordId,
    "member_id": RecordId,
    "offer_id": RecordId,
    "answer_id": RecordId,
    "case_id": RecordId,
    "move_id": RecordId,
    "booking_id": RecordId,
    "origin": Origin,
    "coop": Origin,
    "account_id": AccountId,
    "search_id": SearchId,
    "mail_id": MailId,
    "erasure_token": Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")],
    "number": integer(1, 2**63 - 1, "a school request of this node"),
}
"""The type of each path parameter, by name (a route's path may only use these names)."""


class Input(BaseModel):
    """A request body or query: unknown fields are refused, so a typo is an error rather than a no-op."""

    model_config = ConfigDict(extra="forbid")


class PageQuery(Input):
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="items per page")
    cursor: Cursor | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list, newest or lowest first as the route says; ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None


class Items(BaseModel, Generic[T]):
    """A whole (bounded) list."""

    items: list[T]


_NAMED: dict[tuple[str, type[BaseModel]], type[BaseModel]] = {}


def page_of(item: type[BaseModel]) -> type[BaseModel]:
    """``page_of(item)`` under a plain name (``OfferPage``), which generated clients use as a class name."""
    return _named("Page", Page, item)


def list_of(item: type[BaseModel]) -> type[BaseModel]:
    """``list_of(item)`` under a plain name (``OfferList``)."""
    return _named("List", Items, item)


def _named(suffix: str, generic: Any, item: type[BaseModel]) -> type[BaseModel]:
    found = _NAMED.get((suffix, item))
    if found is None:
        parametrised: type[BaseModel] = generic[item]
        found = _NAMED[(suffix, item)] = type(
            f"{item.__name__}{suffix}", (parametrised,), {"__doc__": parametrised.__doc__}
        )
    return found


class ErrorDetail(BaseModel):
    code: str = Field(description="stable: invalid_input, bad_request, not_authenticated, forbidden, not_found...")
    message: str
    fields: dict[str, str] | None = Field(None, description="invalid_input: why each named field was refused")


class Error(BaseModel):
    """Every error the API answers: ``{"error": {"code", "message"[, "fields"]}}``."""

    error: ErrorDetail
