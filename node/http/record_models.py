"""Pydantic models generated from the protocol's record declarations (:class:`protocol.records.Field`).

A record-shaped body of the JSON API (an offer, an event, a profile's fields, a message) is declared once, in
``protocol/records.py``; this module turns that declaration into the models that validate the body at the edge
and describe it in the OpenAPI document, in two variants:

* ``view``: a field as the node answers it (exactly the record's value);
* ``input``: a field as a client sends it: ``null`` clears it; a trade may be given by its ROME code and a place
  by a town name or postcode (the node resolves both against its reference data and stores the record's form).

The services keep their own checks (they also serve the pages and the CLI); the edge refuses a malformed body
before any work is done, with every field's reason, and the document says exactly what is accepted.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from node.http.types import Date, anchored, integer
from protocol.records import PLACE, TRADE, TRADES, RecordType
from protocol.records import Field as RecordField

Variant = Literal["view", "input"]
_MAPS: dict[tuple[int, Variant], type[BaseModel]] = {}
_NAMES: dict[str, int] = {}


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def value_type(f: RecordField, variant: Variant) -> Any:
    """The pydantic type of one protocol field's value (without nullability)."""
    if variant == "input" and f is TRADES:
        return TRADES_INPUT
    if variant == "input" and f is PLACE:
        return PLACE_INPUT
    kind = f.kind
    if kind == "str":
        pattern = anchored(f.pattern) if f.pattern else None
        return Annotated[str, StringConstraints(max_length=f.max_len, pattern=pattern)]
    if kind == "int":
        lo = f.min if f.min is not None else -(2**63)
        hi = f.max if f.max is not None else 2**63 - 1
        return integer(lo, hi)
    if kind == "bool":
        return bool
    if kind == "date":
        return Date
    if kind == "enum":
        return Literal[f.choices]
    if kind == "list":
        assert f.item is not None
        return Annotated[list[value_type(f.item, variant)], Field(max_length=f.max_len)]  # type: ignore[misc]
    if kind == "map":
        return map_model(f, variant)
    raise TypeError(f"no JSON form for {f.kind} field {f.name}")  # bytes travel only in signed entries


def map_model(f: RecordField, variant: Variant) -> type[BaseModel]:
    """One model per map field and variant (``Place``, ``PlaceInput``...), shared by every record using it."""
    key = (id(f), variant)
    found = _MAPS.get(key)
    if found is None:
        name = camel(f.name) + ("Input" if variant == "input" else "")
        if _NAMES.setdefault(name, id(f)) != id(f):
            raise ValueError(f"two different map fields would both be named {name}")
        found = _MAPS[key] = fields_model(name, f.fields, variant, required=None, doc=f.help)
    return found


def fields_model(
    name: str,
    fields: Iterable[RecordField],
    variant: Variant,
    *,
    required: Iterable[str] | None,
    doc: str = "",
    extra: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    not_null: Iterable[str] = (),
) -> type[BaseModel]:
    """A model of these protocol fields. ``required``: the names a client must give (``None``: as the protocol
    says); ``extra``: more fields as ``name -> (type, default-or-...)``; ``overrides``: a field's value type;
    ``not_null``: optional fields that cannot be cleared."""
    must = {f.name for f in fields if f.required} if required is None else set(required)
    definitions: dict[str, Any] = {}
    for f in fields:
        kind = (overrides or {}).get(f.name) or value_type(f, variant)
        info: dict[str, Any] = {"description": f.help} if f.help else {}
        attribute = f.name
        if keyword.iskeyword(attribute):
            attribute, info["alias"] = attribute + "_", f.name
        if f.name in must:
            if variant == "input" and f.kind == "str":  # the node reads "" as absent
                kind = Annotated[kind, StringConstraints(min_length=1)]
            definitions[attribute] = (kind, Field(..., **info))
        elif f.name in not_null:
            definitions[attribute] = (kind, Field(None, json_schema_extra=_no_default, **info))  # optional, not null
        else:
            definitions[attribute] = (kind | None, Field(None, **info))
    definitions.update(extra or {})
    config = ConfigDict(extra="forbid", populate_by_name=True, title=name)
    model: type[BaseModel] = create_model(name, __config__=config, __doc__=doc or None, **definitions)
    return model


def _no_default(schema: dict[str, Any]) -> None:
    """An optional field that cannot be null has no default a client could send."""
    schema.pop("default", None)


def record_view(record_type: RecordType, name: str, *, extra: Mapping[str, Any] | None = None) -> type[BaseModel]:
    """A record of this node as the API shows it: its body's fields (required ones as the protocol says) and
    ``extra`` fields (id, times...)."""
    return fields_model(name, record_type.fields, "view", required=None, doc=record_type.help, extra=extra)


def record_input(
    record_type: RecordType,
    name: str,
    *,
    names: Iterable[str],
    required: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> type[BaseModel]:
    """What a client may send to create or change such a record: the fields ``names`` (those the node lets a
    member set), ``required`` ones required, every other one nullable (null clears it)."""
    wanted = set(names)
    fields = [f for f in record_type.fields if f.name in wanted]
    missing = wanted - {f.name for f in fields}
    if missing:
        raise ValueError(f"{record_type.name} has no fields {sorted(missing)}")
    return fields_model(
        name,
        fields,
        "input",
        required=required,
        doc=f"{record_type.help or record_type.name}: the fields a member sets",
        extra=extra,
        overrides=overrides,
    )


def dump(body: BaseModel) -> dict[str, Any]:
    """A validated input as the services take it: the fields the client gave (null included), by wire name."""
    return body.model_dump(exclude_unset=True, by_alias=True)


class TradeCodeInput(BaseModel):
    """A trade by its ROME code (a trade as the node answers it is accepted back: only ``rome`` is read)."""

    model_config = ConfigDict(extra="forbid")
    rome: Annotated[str, StringConstraints(min_length=1, max_length=10)]
    label: str | None = None
    esco: str | None = None


TradeCode = Annotated[str, StringConstraints(min_length=1, max_length=10), Field(description="a ROME code, e.g. H2206")]
TRADES_INPUT: Final = Annotated[
    list[TradeCode | TradeCodeInput], Field(max_length=TRADES.max_len, description='ROME codes, e.g. ["H2206"]')
]
TRADE_VIEW: Final = map_model(TRADE, "view")
PLACE_VIEW: Final = map_model(PLACE, "view")
_PLACE_FIELDS: Final = map_model(PLACE, "input")
PLACE_INPUT: Final = Annotated[
    Annotated[str, StringConstraints(min_length=1, max_length=80)] | _PLACE_FIELDS,
    Field(description="a town name or postcode, or {town, postcode}; the node keeps the town, never an address"),
]
