"""Member profile fields: what each holds, how input is checked, what the network and each viewer may see.

Declared once in :data:`PROFILE_FIELDS`. Stored data uses the protocol's network form (a trade is
``{"rome", "label"}``, a place is a resolved town), so the network body is a plain selection of fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from node.errors import InvalidInput
from node.records.publisher import canonical_order
from node.reference.data import Reference
from node.viewer import LEVELS, is_level, visible
from protocol import RECORD_TYPES, SchemaError


@dataclass(frozen=True, slots=True)
class ProfileField:
    name: str
    default: str
    widest: str = "public"  # the widest visibility a member may choose
    help: str = ""


PROFILE_FIELDS: Final[dict[str, ProfileField]] = {
    f.name: f
    for f in (
        ProfileField("display_name", "coop", help="name shown to others"),
        ProfileField("bio", "coop"),
        ProfileField("trades", "coop", help="ROME codes, e.g. H2206"),
        ProfileField("skills", "coop"),
        ProfileField("languages", "coop", help="ISO 639 codes"),
        ProfileField("place", "coop", help="town or postcode; only the town is kept"),
        ProfileField("availability", "coop", help="{status, from, until, days_per_week}"),
        ProfileField("stage", "coop", help="starting | intermittent | established"),
        ProfileField("coop_status", "coop", help="cape | salaried_entrepreneur | associate | employee | other"),
        ProfileField("links", "coop"),
        ProfileField("contact_preference", "coop", help="message | email | phone"),
        ProfileField("day_rate_eur", "private"),
        ProfileField("phone", "private", widest="coop", help="never leaves the node"),
    )
}
SHARED_LEVELS: Final = frozenset({"network", "public"})
PHONE_RE: Final = re.compile(r"[0-9+() .-]{4,40}\Z")
LANG_RE: Final = re.compile(r"[a-z]{2,3}\Z")


def default_visibility() -> dict[str, str]:
    return {name: f.default for name, f in PROFILE_FIELDS.items()}


def check_visibility(changes: object, current: Mapping[str, str]) -> dict[str, str]:
    """Merge visibility ``changes`` (field → level) onto ``current``; refuse unknown fields and levels."""
    if not isinstance(changes, dict):
        raise InvalidInput.field("visibility", "must be an object mapping field names to levels")
    result = {**default_visibility(), **current}
    errors: dict[str, str] = {}
    for name, level in changes.items():
        spec = PROFILE_FIELDS.get(name)
        if spec is None:
            errors[f"visibility.{name}"] = "unknown field"
        elif not is_level(level):
            errors[f"visibility.{name}"] = f"must be one of {', '.join(LEVELS)}"
        elif LEVELS.index(level) > LEVELS.index(spec.widest):
            errors[f"visibility.{name}"] = f"can be at most {spec.widest}"
        else:
            result[name] = level
    if errors:
        raise InvalidInput("invalid visibility", errors)
    return result


def check_fields(values: object, reference: Reference) -> dict[str, Any]:
    """Turn input fields into stored form; ``None`` values mean "clear". Collects every field's error."""
    if not isinstance(values, dict):
        raise InvalidInput.field("fields", "must be an object")
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in values.items():
        if name not in PROFILE_FIELDS:
            errors[name] = "unknown field"
            continue
        if value is None or value == "" or value == []:
            if name == "display_name":
                errors[name] = "cannot be empty"
            else:
                out[name] = None
            continue
        try:
            out[name] = _convert(name, value, reference)
        except InvalidInput as exc:
            errors.update(exc.fields or {name: exc.message})
    # the protocol's schema is the one definition of what a network field may hold: check against it
    body = {k: v for k, v in out.items() if v is not None and k != "phone" and k not in errors}
    try:
        RECORD_TYPES["profile"].validate(canonical_order(body))
    except SchemaError as exc:
        path, _, why = exc.reason.partition(": ")
        field = path.split(".")[1].split("[")[0] if "." in path else "fields"
        errors[field] = why or exc.reason
    if errors:
        raise InvalidInput("invalid profile: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())), errors)
    return out


def _convert(name: str, value: Any, reference: Reference) -> Any:
    if name in ("display_name", "bio"):
        if not isinstance(value, str):
            raise InvalidInput.field(name, "must be a string")
        return value.strip()
    if name == "trades":
        items = _list(name, value)
        seen: dict[str, dict[str, Any]] = {}
        for item in items:
            trade = reference.trade(item)
            seen.setdefault(trade["rome"], trade)
        return list(seen.values())
    if name == "skills":
        items = _list(name, value)
        if not all(isinstance(s, str) and s.strip() for s in items):
            raise InvalidInput.field(name, "must be a list of words")
        return list(dict.fromkeys(s.strip() for s in items))
    if name == "languages":
        items = _list(name, value)
        langs = [s.strip().lower() for s in items if isinstance(s, str)]
        if len(langs) != len(items) or not all(LANG_RE.match(s) for s in langs):
            raise InvalidInput.field(name, "must be ISO 639 codes such as fr, en")
        return list(dict.fromkeys(langs))
    if name == "place":
        return reference.place(value)
    if name == "availability":
        if not isinstance(value, dict):
            raise InvalidInput.field(name, "must be an object {status, from, until, days_per_week}")
        return {k: value[k] for k in sorted(value) if value[k] is not None}
    if name == "links":
        return _list(name, value)
    if name == "phone":
        if not isinstance(value, str) or not PHONE_RE.match(value.strip()):
            raise InvalidInput.field(name, "is not a phone number")
        return value.strip()
    return value  # enums and numbers: checked by the protocol schema


def _list(name: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(";")) if v]
    if not isinstance(value, list):
        raise InvalidInput.field(name, "must be a list")
    return value


def network_body(data: Mapping[str, Any], visibility: Mapping[str, str]) -> dict[str, Any]:
    """The profile body that may leave the node: network and public fields only, plus the ``public`` list."""
    body: dict[str, Any] = {}
    public: list[str] = []
    for name, value in data.items():
        level = visibility.get(name, PROFILE_FIELDS[name].default if name in PROFILE_FIELDS else "private")
        if value is None or name == "phone" or level not in SHARED_LEVELS:
            continue
        body[name] = value
        if level == "public":
            public.append(name)
    if body:
        body["public"] = sorted(public)
    return body


def visible_fields(data: Mapping[str, Any], visibility: Mapping[str, str], viewer_level: str) -> dict[str, Any]:
    return {
        name: value
        for name, value in data.items()
        if value is not None
        and name in PROFILE_FIELDS
        and visible(visibility.get(name, PROFILE_FIELDS[name].default), viewer_level)
    }


def search_bodies(data: Mapping[str, Any], visibility: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per search audience (``public``, ``network``, ``coop``), the fields it may read: what
    :class:`~node.search.documents.SearchDocuments` makes its text and facets of. Never a private field."""
    bodies: dict[str, dict[str, Any]] = {"public": {}, "network": {}, "coop": {}}
    for name, value in data.items():
        if value is None or name == "phone" or name not in PROFILE_FIELDS:
            continue
        level = visibility.get(name, PROFILE_FIELDS[name].default)
        if level == "private":
            continue
        for audience, fields in bodies.items():
            if visible(level, audience):
                fields[name] = value
    return bodies


def shown_name(data: Mapping[str, Any], visibility: Mapping[str, str], audience: str) -> str | None:
    """The member's name as ``audience`` ("coop", "network" or "public") may read it, or None when the member
    does not show it that far: what a message's sender or a registration's participant is called, never more."""
    name = data.get("display_name")
    level = visibility.get("display_name", PROFILE_FIELDS["display_name"].default)
    if not isinstance(name, str) or not name.strip() or level == "private":
        return None
    return name[:120] if visible(level, audience) else None
