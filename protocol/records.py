"""Record types: what may travel in an entry's body, and the limits on it.

Each type is declared once, as data (:data:`RECORD_TYPES`); validation, the docs table in ``docs/PROTOCOL.md``
(checked by a test) and the vectors all come from that declaration.

Versioning: a type has a (major, minor) version carried in the header's ``tv``. A different major is refused
(:class:`UnsupportedVersionError`). A newer minor may only add optional fields, so a node that knows minor m
accepts a body of minor m' > m and keeps fields it does not know: they are in the signed body bytes, which a
node stores and relays untouched, so they survive the round trip. A body that claims minor <= m and carries a
field the node does not know is refused: the sender does not speak the version it claims.

Field rules: absent means unset; nil is never a field value; strings count Unicode code points; every list and
string has a ceiling.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgpack

from . import canonical
from .acceptor import generate_acceptor
from .canonical import Value
from .envelope import (
    MAX_DIRECT_ENVELOPE_BYTES,
    ORIGIN_RE,
    RECORD_ID_RE,
    TYPE_RE,
    Entry,
    KeyResolver,
    decode_entry,
    sign_entry,
    verify,
    verify_chain,
)
from .errors import LocalProtocolError, MalformedError, NonCanonicalError, SchemaError, UnsupportedVersionError
from .keys import SigningKey

Kind = Literal["str", "int", "bool", "bytes", "date", "enum", "list", "map"]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    required: bool = False
    max_len: int = 0  # strings: code points; lists: items; bytes: exact length when ``exact``
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    item: Field | None = None
    fields: tuple[Field, ...] = ()
    help: str = ""

    def describe(self) -> str:
        """The constraint column of the table in docs/PROTOCOL.md."""
        if self.kind == "str":
            extra = f", pattern `{self.pattern}`" if self.pattern else ""
            return f"string ≤ {self.max_len}{extra}"
        if self.kind == "int":
            return f"integer {self.min if self.min is not None else '-2^63'}..{self.max}"
        if self.kind == "enum":
            return "one of " + ", ".join(f"`{c}`" for c in self.choices)
        if self.kind == "bytes":
            return f"bytes, exactly {self.max_len}"
        if self.kind == "date":
            return "date `YYYY-MM-DD`"
        if self.kind == "bool":
            return "boolean"
        if self.kind == "list":
            assert self.item is not None
            return f"array ≤ {self.max_len} of ({self.item.describe()})"
        return "map (" + ", ".join(f.name for f in self.fields) + ")"


@dataclass(frozen=True, slots=True)
class RecordType:
    name: str
    version: tuple[int, int]
    fields: tuple[Field, ...]
    help: str = ""
    fixed_id: str | None = None  # types whose record id is imposed (the node document is always "node")
    #: a direct type: sent to the one node its ``to_node`` names, never part of a log (see :func:`open_direct`)
    direct: bool = False
    _validate: Callable[[Any, bool, bool], None] = field(init=False, repr=False, compare=False)
    _accepts: Callable[[Any, bool, bool], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.direct:
            to_node = next((f for f in self.fields if f.name == "to_node"), None)
            if to_node is None or not to_node.required or to_node.kind != "str" or to_node.pattern != NODE_PATTERN:
                raise ValueError(f"direct type {self.name} must declare a required to_node node name")
        object.__setattr__(self, "_validate", _compile_map(self.fields))
        object.__setattr__(self, "_accepts", generate_acceptor(self.fields, self.name))

    def validate(
        self, body: Mapping[str, Value], type_version: tuple[int, int] | None = None, *, wire: bool = False
    ) -> None:
        """Raise :class:`SchemaError` (or :class:`UnsupportedVersionError`) unless ``body`` fits this type.

        ``wire`` says the body was decoded from bytes, so its maps' key order is the wire order and must be
        canonical; a body built in memory has no meaningful order.
        """
        major, minor = type_version if type_version is not None else self.version
        if major != self.version[0]:
            raise UnsupportedVersionError(
                f"{self.name} version {major}.{minor}; this node speaks {self.version[0]}.{self.version[1]}"
            )
        lenient = minor > self.version[1]
        if self._accepts(body, lenient, wire):
            return
        try:
            self._validate(body, lenient, wire)
        except _Invalid as exc:
            where = f"{self.name}{''.join(reversed(exc.path))}"
            if isinstance(exc, _OutOfOrder):
                raise NonCanonicalError(f"{where}: {exc.why}") from None
            raise SchemaError(f"{where}: {exc.why}") from None


# ------------------------------------------------------------------------------------------ compiled checks
# Each field compiles to a closure. Paths are built only when a check fails (the exception collects them on
# its way up), so an honest body costs one call and a few type tests per field.

Check = Callable[[Any, bool, bool], None]


class _Invalid(Exception):
    def __init__(self, why: str) -> None:
        self.why = why
        self.path: list[str] = []


class _OutOfOrder(_Invalid):
    """Not a schema fault but a canonical-encoding one, found here because the schema walk sees the key order."""


def _compile(f: Field) -> Check:
    kind = f.kind
    if kind == "str":
        max_len, rx = f.max_len, re.compile("(?:" + f.pattern + r")\Z") if f.pattern else None

        def check_str(v: Any, lenient: bool, wire: bool) -> None:
            if type(v) is not str:
                raise _Invalid("must be a string")
            if len(v) > max_len:
                raise _Invalid(f"longer than {max_len} characters")
            if rx is not None and rx.match(v) is None:
                raise _Invalid(f"does not match {rx.pattern}")

        return check_str
    if kind == "int":
        lo = f.min if f.min is not None else -(2**63)
        hi = f.max if f.max is not None else 2**63 - 1

        def check_int(v: Any, lenient: bool, wire: bool) -> None:
            if type(v) is not int:
                raise _Invalid("must be an integer")
            if not lo <= v <= hi:
                raise _Invalid(f"must be within {lo}..{hi}")

        return check_int
    if kind == "bool":

        def check_bool(v: Any, lenient: bool, wire: bool) -> None:
            if type(v) is not bool:
                raise _Invalid("must be a boolean")

        return check_bool
    if kind == "bytes":
        size = f.max_len

        def check_bytes(v: Any, lenient: bool, wire: bool) -> None:
            if type(v) is not bytes or len(v) != size:
                raise _Invalid(f"must be exactly {size} bytes")

        return check_bytes
    if kind == "date":

        def check_date(v: Any, lenient: bool, wire: bool) -> None:
            if type(v) is not str or _DATE_RE.match(v) is None:
                raise _Invalid("must be a date YYYY-MM-DD")
            try:
                dt.date.fromisoformat(v)
            except ValueError:
                raise _Invalid("is not a calendar date") from None

        return check_date
    if kind == "enum":
        choices = frozenset(f.choices)

        def check_enum(v: Any, lenient: bool, wire: bool) -> None:
            if type(v) is not str or v not in choices:
                raise _Invalid(f"must be one of {', '.join(f.choices)}")

        return check_enum
    if kind == "list":
        assert f.item is not None
        item_check, max_items = _compile(f.item), f.max_len

        def check_list(v: Any, lenient: bool, wire: bool) -> None:
            if type(v) is not list:
                raise _Invalid("must be an array")
            if len(v) > max_items:
                raise _Invalid(f"more than {max_items} items")
            for i, item in enumerate(v):
                try:
                    item_check(item, lenient, wire)
                except _Invalid as exc:
                    exc.path.append(f"[{i}]")
                    raise

        return check_list
    return _compile_map(f.fields)


def _compile_map(fields: tuple[Field, ...]) -> Check:
    checks = {f.name: _compile(f) for f in fields}
    required = tuple(f.name for f in fields if f.required)

    def check_map(v: Any, lenient: bool, wire: bool) -> None:
        if type(v) is not dict:
            raise _Invalid("must be a map")
        for name in required:
            if name not in v:
                exc = _Invalid("is required")
                exc.path.append(f".{name}")
                raise exc
        previous = None
        for name, item in v.items():
            try:
                # keys arrive in wire order; canonical order is strictly increasing
                if wire and previous is not None and name <= previous:
                    raise _OutOfOrder("map keys are out of canonical order")
                previous = name
                check = checks.get(name)
                if check is None:
                    if not lenient:
                        raise _Invalid("is not a field of this version")
                    _check_unknown(item)  # a newer minor's field: kept unjudged, but still canonical
                else:
                    check(item, lenient, wire)
            except _Invalid as exc:
                exc.path.append(f".{name}")
                raise

    return check_map


def _check_unknown(item: Any) -> None:
    try:
        canonical.decode(msgpack.packb(item, use_bin_type=True), canonical.DEFAULT_LIMITS)
    except (NonCanonicalError, MalformedError) as exc:
        raise _Invalid(f"unknown field is not canonical ({exc.reason})") from None


_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")

# ------------------------------------------------------------------------------------------ shared pieces

NODE_PATTERN: Final = ORIGIN_RE.pattern.removesuffix(r"\Z")
ID_PATTERN: Final = RECORD_ID_RE.pattern.removesuffix(r"\Z")
REF_PATTERN: Final = r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?/[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"
KID_PATTERN: Final = r"[0-9a-f]{16}"
LANG_PATTERN: Final = r"[a-z]{2,3}"


def _str(name: str, max_len: int, required: bool = False, pattern: str | None = None, help: str = "") -> Field:
    return Field(name, "str", required=required, max_len=max_len, pattern=pattern, help=help)


def _enum(name: str, *choices: str, required: bool = False, help: str = "") -> Field:
    return Field(name, "enum", required=required, choices=choices, help=help)


def _list(name: str, item: Field, max_len: int, help: str = "") -> Field:
    return Field(name, "list", max_len=max_len, item=item, help=help)


def _ms(name: str, required: bool = False, help: str = "") -> Field:
    return Field(name, "int", required=required, min=0, max=2**53 - 1, help=help)


PLACE = Field(
    "place",
    "map",
    fields=(
        _str("town", 80, help="commune name, e.g. Saint-Denis"),
        _str("postcode", 10, pattern=r"[0-9A-Z -]{2,10}"),
        _str("departement", 3, pattern=r"[0-9]{2,3}|2[AB]", help="French département code, e.g. 93"),
        _str("region", 60),
        _str("country", 2, pattern=r"[A-Z]{2}", help="ISO 3166-1 alpha-2; FR when absent"),
        Field("lat_e6", "int", min=-90_000_000, max=90_000_000, help="latitude in microdegrees (a town's)"),
        Field("lon_e6", "int", min=-180_000_000, max=180_000_000, help="longitude in microdegrees"),
    ),
    help="a town, never an address",
)
TRADE = Field(
    "trade",
    "map",
    fields=(
        _str("rome", 5, pattern=r"[A-N][0-9]{4}", help="French ROME job code, e.g. F1607"),
        _str("label", 120, required=True, help="label in the member's language"),
        _str("esco", 200, pattern=r"https?://[!-~]+", help="ESCO occupation URI"),
    ),
)
TRADES = _list("trades", TRADE, 10)
SKILLS = _list("skills", _str("skill", 60), 30)
LANGUAGES = _list("languages", _str("language", 3, pattern=LANG_PATTERN), 10, help="ISO 639 codes")
MEMBER_REF = _str("author", 64, pattern=RECORD_ID_RE.pattern.removesuffix(r"\Z"), help="id of a profile")

NODE = RecordType(
    "node",
    (1, 1),
    (
        _str("name", 32, required=True, pattern=ORIGIN_RE.pattern.removesuffix(r"\Z"), help="= origin"),
        _str("display_name", 120, required=True),
        _str("url", 200, required=True, pattern=r"https?://[!-~]+"),
        _str("description", 2000),
        _str("legal_form", 40, help="Scop, Scic, CAE, association..."),
        _list("sectors", _str("sector", 60), 20),
        PLACE,
        Field("member_count", "int", min=0, max=10_000_000),
        _str("contact", 200),
        _str("dpo_contact", 200, help="data protection officer"),
        _list("protocol_versions", Field("version", "int", min=1, max=65_535), 8),
        _list(
            "keys",
            Field(
                "key",
                "map",
                fields=(
                    _str("kid", 16, required=True, pattern=KID_PATTERN),
                    Field("public_key", "bytes", required=True, max_len=32),
                    _ms("not_before", required=True),
                    _ms("not_after"),
                    _ms("revoked_at"),
                    Field("first_seq", "int", min=1, max=2**53 - 1, help="1.1: first seq of this origin it signs"),
                    Field("last_seq", "int", min=0, max=2**53 - 1, help="1.1: last seq of this origin it signs"),
                ),
            ),
            32,
            help="current and past signing keys",
        ),
        _enum("status", "candidate", "member", "suspended", "left"),
        Field(
            "handover",
            "map",
            fields=(
                _str("kid", 16, required=True, pattern=KID_PATTERN, help="the old key"),
                Field("signature", "bytes", required=True, max_len=64, help="the old key's hand-over signature"),
            ),
            help="1.1: this entry hands the origin over from the old key to the key that signs it (section 7)",
        ),
    ),
    help="a node's self-signed document, served at /.well-known/bigre/node",
    fixed_id="node",
)

PROFILE = RecordType(
    "profile",
    (1, 0),
    (
        _str("display_name", 120),
        _str("bio", 2000),
        TRADES,
        SKILLS,
        LANGUAGES,
        PLACE,
        Field(
            "availability",
            "map",
            fields=(
                _enum("status", "available", "partly", "busy", "unavailable"),
                Field("from", "date"),
                Field("until", "date"),
                Field("days_per_week", "int", min=0, max=7),
            ),
        ),
        _enum("stage", "starting", "intermittent", "established", help="project stage"),
        _enum("coop_status", "cape", "salaried_entrepreneur", "associate", "employee", "other"),
        _list("links", _str("link", 200, pattern=r"https?://[!-~]+"), 10),
        _enum("contact_preference", "message", "email", "phone"),
        Field("day_rate_eur", "int", min=0, max=100_000),
        _list("public", _str("field", 32), 32, help="names of the fields the member made public"),
    ),
    help="a member's network-visible fields only; private and coop fields never reach an envelope",
)

OFFER = RecordType(
    "offer",
    (1, 0),
    (
        _enum("purpose", "offer", "request", required=True),
        _str("title", 140, required=True),
        _str("note", 4000),
        TRADES,
        SKILLS,
        PLACE,
        Field("remote", "bool"),
        Field("from", "date"),
        Field("until", "date"),
        Field("effort_days", "int", min=0, max=3650),
        _enum("reciprocity", "paid", "exchange", "time", "free"),
        _ms("expires"),
        _enum("status", "open", "closed", "fulfilled", required=True),
        MEMBER_REF,
    ),
    help="a collaboration offer or request (Valueflows intent)",
)

MENTORING = RecordType(
    "mentoring",
    (1, 1),
    (
        _enum("kind", "offer", "request", required=True),
        _str("member", 64, required=True, pattern=RECORD_ID_RE.pattern.removesuffix(r"\Z")),
        _list("topics", _str("topic", 80), 10),
        TRADES,
        LANGUAGES,
        _str("cadence", 80),
        _str("programme", 80),
        _str("note", 2000),
        _enum("status", "open", "paired", "closed", required=True),
        Field("capacity", "int", min=1, max=20, help="1.1: an offer's number of mentees at once (1 when absent)"),
    ),
)

EVENT = RecordType(
    "event",
    (1, 1),
    (
        _enum("kind", "training", "workshop", "working_group", "meeting", "other", required=True),
        _str("title", 140, required=True),
        _str("description", 4000),
        _ms("start", required=True),
        _ms("end"),
        PLACE,
        Field("online", "bool"),
        _str("url", 200, pattern=r"https?://[!-~]+"),
        Field("seats", "int", min=0, max=100_000),
        _enum("registration", "open", "approval", "closed"),
        _str("organiser", 120),
        LANGUAGES,
        _enum("status", "scheduled", "cancelled"),
        _enum("audience", "members", "school", help="1.1: who the event is for (members when absent)"),
    ),
)

HELP_REQUEST = RecordType(
    "help_request",
    (1, 0),
    (
        _str("topic", 140, required=True),
        _str("text", 4000),
        _enum("urgency", "low", "normal", "high"),
        Field("needed_by", "date"),
        TRADES,
        MEMBER_REF,
        _enum("status", "open", "answered", "closed", required=True),
    ),
)

HELP_ANSWER = RecordType(
    "help_answer",
    (1, 0),
    (
        _str("request", 97, required=True, pattern=REF_PATTERN, help="origin/id of the help request"),
        _str("text", 4000, required=True),
        MEMBER_REF,
    ),
)

TOMBSTONE = RecordType(
    "tombstone",
    (1, 0),
    (
        _str("target_type", 32, required=True, pattern=TYPE_RE.pattern.removesuffix(r"\Z")),
        _enum("reason", "deleted", "erased", "expired", "moved", required=True),
        _str("forward", 97, pattern=REF_PATTERN, help="origin/id where a moved record lives now"),
    ),
    help="deletes the record with the same id; every node drops the body it held",
)

RULES = ("majority", "two_thirds", "unanimity")

CHARTER = Field(
    "charter",
    "map",
    fields=(
        _enum("admission_rule", *RULES, "sponsors", required=True, help="how a candidate coop is admitted"),
        Field("sponsors_required", "int", min=1, max=100, help="with the sponsors rule: yes votes needed, no veto"),
        _enum("suspension_rule", *RULES, required=True),
        _enum("expulsion_rule", *RULES, required=True),
        _enum("charter_rule", *RULES, required=True, help="how the charter itself changes"),
        _enum("recovery_rule", *RULES, required=True, help="how a node that lost its key gets a new one"),
        Field("voting_days", "int", required=True, min=1, max=365, help="default time to vote"),
        _enum("proposers", "any_member", "founders", help="who may propose (default any_member)"),
        _enum("suspended_records", "keep", "drop", help="what happens to a suspended node's old records"),
        _enum(
            "departed_records",
            "keep",
            "drop",
            help="what the other nodes keep of a coop that left or was expelled (default: as suspended_records)",
        ),
        _str("text", 8000, help="the charter in words"),
    ),
    help="the rules of the network",
)

PROPOSAL = RecordType(
    "proposal",
    (1, 0),
    (
        _enum(
            "kind",
            "admission",
            "suspension",
            "expulsion",
            "reinstatement",
            "leave",
            "charter",
            "key_recovery",
            required=True,
        ),
        _str("subject", 32, required=True, pattern=ORIGIN_RE.pattern.removesuffix(r"\Z"), help="the node concerned"),
        _ms("deadline", required=True, help="votes signed after this time do not count"),
        _str("text", 4000, help="motivation"),
        Field(
            "candidate",
            "map",
            fields=(
                _str("url", 200, required=True, pattern=r"https?://[!-~]+"),
                _str("display_name", 120, required=True),
                Field("public_key", "bytes", required=True, max_len=32),
                _str("legal_name", 200),
                _str("registry_number", 40, help="e.g. SIREN"),
                _str("contact", 200),
                _str("sponsor", 32, pattern=ORIGIN_RE.pattern.removesuffix(r"\Z")),
                _str("case", 64),
            ),
            help="admission: the candidate node, as its self-signed document and join request gave it",
        ),
        CHARTER,
        Field("new_key", "bytes", max_len=32, help="key_recovery: the subject's new public key"),
    ),
    help="a decision put to the member nodes' vote (admission, suspension, charter change...)",
)

ADMISSION_VOTE = RecordType(
    "admission_vote",
    (1, 0),
    (
        _str("proposal", 97, required=True, pattern=REF_PATTERN, help="origin/id of the proposal"),
        _enum("decision", "yes", "no", "abstain", required=True),
        _str("reason", 1000),
    ),
    help="a member node's vote on a proposal (admissions first of all, and every other network decision)",
)

KEY_REVOCATION = RecordType(
    "key_revocation",
    (1, 0),
    (
        _str("kid", 16, required=True, pattern=KID_PATTERN),
        _ms("revoked_at", required=True, help="entries the key signed at or after this time are refused"),
        _enum("reason", "compromised", "superseded", "lost", required=True),
        _str("replacement", 16, pattern=KID_PATTERN),
    ),
)

FORK_REPAIR = RecordType(
    "fork_repair",
    (1, 0),
    (
        Field("seq", "int", required=True, min=1, max=2**53 - 1, help="the first position the forks disputed"),
        Field("hash", "bytes", required=True, max_len=32, help="entry hash of the origin's own entry at `seq`"),
        _enum("reason", "compromised", "restored", "duplicate", "other", required=True),
        _str("text", 1000),
    ),
    help=(
        "the origin names the branch it stands by after a fork (section 6.1): its history at `seq` is the entry "
        "`hash`, and goes on as the chain that holds this record"
    ),
)
# ------------------------------------------------------------------------------------------ direct types
# A direct record is sent to ONE node (its ``to_node``), is never part of a log and is never relayed: see
# docs/PROTOCOL.md §8.1 and :func:`open_direct`. Adding one = a type here with ``direct=True`` (and a required
# ``to_node``), and a handler on the receiving side.

TO_NODE = _str("to_node", 32, required=True, pattern=NODE_PATTERN, help="the one node this record is for")


def _id(name: str, required: bool = False, help: str = "") -> Field:
    return _str(name, 64, required=required, pattern=ID_PATTERN, help=help)


def _node(name: str, required: bool = False, help: str = "") -> Field:
    return _str(name, 32, required=required, pattern=NODE_PATTERN, help=help)


def _map(name: str, *fields: Field, required: bool = False, help: str = "") -> Field:
    return Field(name, "map", required=required, fields=fields, help=help)


MESSAGE = RecordType(
    "message",
    (1, 0),
    (
        TO_NODE,
        _id("to_member", required=True),
        _id("from_member", required=True),
        _str("from_name", 120),
        _str("subject", 140),
        _str("text", 4000, required=True),
        _str("about", 97, pattern=REF_PATTERN, help="origin/id of the offer or request answered"),
    ),
    help="a private message from a member to a member of another coop",
    direct=True,
)

#: the profile fields a moving member takes along (every profile field but the list of public ones, which the
#: new node derives from ``visibility``)
_MOVED_PROFILE_FIELDS: Final = tuple(f for f in PROFILE.fields if f.name != "public")

MEMBER_MOVE = RecordType(
    "member_move",
    (1, 0),
    (
        TO_NODE,
        _id("move", required=True, help="the move's id, chosen by the node the member leaves"),
        _id("member", required=True, help="the member's profile id on the node they leave"),
        _str("email", 254, required=True, help="the member's e-mail address (their login on the new node)"),
        _str("display_name", 120, required=True),
        _map("profile", *_MOVED_PROFILE_FIELDS, help="the profile fields that move: never the private ones"),
        _map(
            "visibility",
            *(_enum(f.name, "coop", "network", "public") for f in _MOVED_PROFILE_FIELDS),
            help="who may see each profile field sent",
        ),
        _list(
            "offers",
            _map(
                "offer",
                _id("id", required=True, help="the offer's id on the node the member leaves"),
                _enum("visibility", "network", "public"),
                _map("fields", *(f for f in OFFER.fields if f.name != "author"), required=True),
            ),
            200,
            help="the offers and requests the member wrote",
        ),
        _list(
            "mentoring",
            _map(
                "mentoring",
                _id("id", required=True),
                _map("fields", *(f for f in MENTORING.fields if f.name != "member"), required=True),
            ),
            50,
        ),
    ),
    help=(
        "a member's request to move to another coop, with their portable data, from the node they leave to the "
        "node they join"
    ),
    direct=True,
)

MEMBER_MOVE_ACCEPTANCE = RecordType(
    "member_move_acceptance",
    (1, 0),
    (
        TO_NODE,
        _id("move", required=True, help="the move accepted"),
        _id("member", required=True, help="the member's new profile id"),
        _list(
            "records",
            _map("record", _id("old", required=True), _id("new", required=True)),
            251,
            help="which record ids of the node left became which ids of the new node (the profile first)",
        ),
    ),
    help="the new node's acceptance of a member_move, sent back to the node the member leaves",
    direct=True,
)

CASE_STAGES: Final = (
    "emergence",
    "co_accompaniment",
    "feasibility",
    "legal_form",
    "statutes",
    "financing",
    "registration",
    "follow_up",
)
_CASE_AUTHOR = _map("by", _node("node", required=True), Field("account_id", "int", min=0, max=2**53 - 1))


def _case_entry(name: str, *fields: Field) -> Field:
    return _map(name, _str("id", 64, required=True), _ms("at", required=True), _CASE_AUTHOR, *fields)


def _case_stage(name: str) -> Field:
    return _map(
        name,
        _list(
            "checklist",
            _map("item", _str("key", 64, required=True), _str("label", 200), Field("done", "bool", required=True)),
            100,
        ),
        Field("planned", "date"),
        Field("started", "date"),
        Field("done", "date"),
        _list("notes", _case_entry("note", _str("text", 4000, required=True)), 100),
        _list(
            "documents",
            _case_entry("document", _str("name", 200, required=True), _str("ref", 500, required=True)),
            100,
        ),
        _list(
            "decisions",
            _case_entry("decision", _str("text", 2000, required=True), Field("date", "date"), _str("who", 200)),
            100,
        ),
    )


CASE_SHARE = RecordType(
    "case_share",
    (1, 1),
    (
        TO_NODE,
        _node("case_origin", required=True, help="the coop that opened the case: it decides who sees it"),
        _id("case_id", required=True),
        _str("title", 200, required=True),
        _enum("stage", *CASE_STAGES, required=True),
        _enum(
            "origin_kind", "new_creation", "association_conversion", "company_takeover", "cae_collective", required=True
        ),
        _enum("target_form", "cae_activity", "scop", "scic", "other", required=True),
        _str("description", 4000),
        TRADES,
        _list(
            "group",
            _map(
                "person",
                _str("name", 120, required=True),
                _str("email", 254),
                _str("role", 80),
                Field("associate", "bool"),
                Field("employee", "bool"),
                Field("capital_eur", "int", min=0, max=1_000_000_000),
                _enum(
                    "stakeholder",
                    "employee",
                    "producer",
                    "beneficiary",
                    "volunteer",
                    "local_authority",
                    "supporter",
                    "other",
                ),
            ),
            50,
            help="the people of the future coop",
        ),
        _list(
            "owners",
            _map(
                "owner",
                _node("node", required=True),
                Field("account_id", "int", required=True, min=0, max=2**53 - 1),
                _str("name", 120),
            ),
            50,
            help="the advisors following the case, per coop",
        ),
        _map("stages", *(_case_stage(name) for name in CASE_STAGES), help="each stage's checklist and journal"),
        _map(
            "node",
            _node("name", required=True),
            _str("url", 200, required=True, pattern=r"https?://[!-~]+"),
            _ms("built_at"),
            help="the node prepared for the new coop",
        ),
        _list("shared_with", _node("node"), 64, help="the coops the case is shared with (decided by case_origin)"),
        _ms("created_at", required=True),
        _ms("updated_at", required=True, help="time of the newest edit: the newest snapshot wins"),
        _node("updated_by", required=True, help="node of the newest edit (breaks ties)"),
        _ms("retention_until", required=True, help="when every copy of the case is deleted"),
        _map(
            "student",
            _str("university", 200, required=True),
            _str("tutor", 120, help="the university's tutor"),
            _str("course", 200),
            Field("year_start", "date", required=True),
            Field("year_end", "date", required=True),
            _list("milestones", _map("milestone", Field("date", "date", required=True), _str("label", 200)), 20),
            _str("graduated_to", 64, pattern=ID_PATTERN, help="the creation case the project became"),
            help="1.1: a student cooperative project, with the academic year's timeline",
        ),
    ),
    help="a snapshot of an onboarding case, sent to a coop it is shared with (or back to the coop that opened it)",
    direct=True,
)

CASE_WITHDRAWAL = RecordType(
    "case_withdrawal",
    (1, 0),
    (TO_NODE, _id("case_id", required=True, help="a case the sender opened")),
    help="the coop that opened a case stops sharing it with the recipient, which deletes its copy",
    direct=True,
)

EVENT_REGISTRATION = RecordType(
    "event_registration",
    (1, 0),
    (
        TO_NODE,
        _enum("action", "register", "cancel", required=True),
        _id("event", required=True, help="an event of the recipient"),
        _id("member", required=True, help="the member's profile id on the sender"),
        _str("name", 120, required=True, help="the name the member shows"),
        _ms("at", required=True, help="strictly after the previous request of the same registration"),
    ),
    help=(
        "a member's registration for (or cancellation of) an event another coop organises; the record id names "
        "the request, which the answer echoes"
    ),
    direct=True,
)

EVENT_REGISTRATION_ANSWER = RecordType(
    "event_registration_answer",
    (1, 0),
    (
        TO_NODE,
        _id("event", required=True),
        _id("member", required=True),
        _id("request", required=True, help="the id of the event_registration answered"),
        _enum("status", "confirmed", "full", "closed", "unknown", required=True),
    ),
    help="the organising coop's answer to an event_registration",
    direct=True,
)

#: at most this many record ids in one erasure receipt (more are confirmed in several receipts)
MAX_RECEIPT_RECORDS: Final = 500

ERASURE_RECEIPT = RecordType(
    "erasure_receipt",
    (1, 0),
    (
        TO_NODE,
        Field(
            "records",
            "list",
            required=True,
            max_len=MAX_RECEIPT_RECORDS,
            item=_id("record"),
            help="ids of the recipient's records this node erased (their tombstones had the reason `erased`)",
        ),
        _ms("erased_at", required=True, help="when this node applied the deletions"),
    ),
    help=(
        "a node's signed statement to the origin of erased records that it erased them: their state, search "
        "documents and the bodies of every entry it held"
    ),
    direct=True,
)

# ------------------------------------------------------------------------------- shared spaces and machines
# A coop (or a member coop running a place) publishes its spaces and machines as ``resource`` log records; a
# member of any coop books a slot with a ``booking_request`` sent to the resource's node only, which answers
# with a ``booking_answer`` (docs/PROTOCOL.md, "Resources and bookings").

_HHMM_MINUTES = 24 * 60
RESOURCE = RecordType(
    "resource",
    (1, 0),
    (
        _enum("kind", "space", "machine", required=True),
        _str("title", 140, required=True),
        _str("description", 4000),
        _str("venue", 120, help="the place's name, e.g. Point Carré"),
        _str("run_by", 120, help="who runs the place when it is not the publishing coop itself"),
        PLACE,
        Field("capacity", "int", min=1, max=10_000, help="people at once (a room), or 1 (a machine, a desk)"),
        _str(
            "timezone", 40, pattern=r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+){0,2}", help="IANA zone; Europe/Paris when absent"
        ),
        _list(
            "hours",
            _map(
                "opening",
                Field("day", "int", required=True, min=1, max=7, help="ISO weekday: 1 Monday .. 7 Sunday"),
                Field("opens", "int", required=True, min=0, max=_HHMM_MINUTES - 1, help="minutes after midnight"),
                Field("closes", "int", required=True, min=1, max=_HHMM_MINUTES, help="minutes after midnight"),
            ),
            28,
            help="opening hours in the resource's zone; a booking lies inside one opening",
        ),
        Field("slot_minutes", "int", min=15, max=_HHMM_MINUTES, help="bookings start and end on this grid (15)"),
        Field("max_minutes", "int", min=15, max=14 * _HHMM_MINUTES, help="longest booking"),
        _list(
            "prices",
            _map(
                "price",
                _enum("audience", "coop", "network", "public", required=True),
                _enum("access", "free", "paid", "not_offered", required=True),
                Field("amount_cents", "int", min=0, max=10_000_000, help="euro cents, before tax"),
                _enum("unit", "hour", "half_day", "day", "booking"),
                _str("note", 200),
            ),
            3,
            help="the price or rule for each audience: the publishing coop's members, the network, the public",
        ),
        _list("photos", _str("photo", 300, pattern=r"https?://[!-~]+"), 10, help="links to pictures"),
        _str("qualification", 40, pattern=r"[a-z0-9][a-z0-9_-]{0,39}", help="needed to book, e.g. laser-cutter"),
        _str("qualification_label", 120, help="what the qualification is, in words (the induction)"),
        Field("approval", "bool", help="bookings wait for the place's staff"),
        _enum("status", "open", "closed", required=True),
    ),
    help="a space or a machine a coop lets members of the network book",
)

BOOKING_REQUEST = RecordType(
    "booking_request",
    (1, 0),
    (
        TO_NODE,
        _enum("action", "book", "cancel", required=True),
        _id("booking", required=True, help="the booking's id, chosen by the member's node"),
        _id("resource", required=True, help="a resource of the recipient"),
        _id("member", required=True, help="the member's profile id on the sender"),
        _str("name", 120, required=True, help="the name the member shows"),
        _ms("start", required=True),
        _ms("end", required=True, help="after start"),
        _str("note", 500),
        _ms("at", required=True, help="strictly after the previous request of the same booking"),
    ),
    help="a member's booking of (or cancellation of) a slot of another coop's resource",
    direct=True,
)

BOOKING_ANSWER = RecordType(
    "booking_answer",
    (1, 0),
    (
        TO_NODE,
        _id("booking", required=True, help="the booking answered (its id on the member's node)"),
        _id("resource", required=True),
        _id("request", required=True, help="the id of the booking_request answered"),
        _enum("status", "pending", "confirmed", "refused", "cancelled", required=True),
        _enum(
            "reason",
            "conflict",
            "not_qualified",
            "closed",
            "outside_hours",
            "invalid",
            "unknown",
            "declined",
            "by_staff",
            help="why a booking is refused or cancelled by the place",
        ),
        _ms("at", required=True, help="the place's time of this state: the newest answer wins"),
    ),
    help="the resource's node's answer to a booking_request, or a later decision of its staff",
    direct=True,
)
BOOKING_RECORD_TYPES: Final = (RESOURCE, BOOKING_REQUEST, BOOKING_ANSWER)
# ------------------------------------------------------------------------------ mentoring programmes (issue 16)
# A programme is a log record of the coop that runs it; mentees and mentors answer it with ``mentoring`` records
# naming it. A pair is proposed by the programme's node to the mentor's and the mentee's nodes (``mentoring_pair``
# snapshots, newest ``updated_at`` wins), each side answers the programme's node (``mentoring_pair_answer``), and
# check-ins go to the pair's nodes only (``mentoring_checkin``). See docs/PROTOCOL.md §8.2.

MENTORING_PROGRAMME = RecordType(
    "mentoring_programme",
    (1, 0),
    (
        _str("name", 120, required=True),
        _str("description", 4000),
        Field("cohort_start", "date", required=True),
        Field("cohort_end", "date", required=True),
        _list(
            "mentees",
            _enum("rule", "first_year", "under_30", "any"),
            3,
            help="who may be a mentee: any rule that holds (members in their first year, under 30...)",
        ),
        _list("topics", _str("topic", 80), 10),
        LANGUAGES,
        _str("coordinator", 120, help="the coordinator's name"),
        _enum("status", "open", "running", "closed", required=True),
    ),
    help="a mentoring programme (a cohort) run by a coop; mentees and mentors name it in their mentoring records",
)

_PAIR_PERSON = (
    _node("node", required=True),
    _id("member", required=True, help="the member's profile id on their node"),
    _id("mentoring", help="their mentoring record (offer or request) on their node"),
    _str("name", 120, required=True),
    _enum("answer", "pending", "accepted", "declined", required=True),
)

MENTORING_PAIR = RecordType(
    "mentoring_pair",
    (1, 0),
    (
        TO_NODE,
        _id("pair", required=True, help="the pair's id, chosen by the programme's node"),
        _str("programme", 97, required=True, pattern=REF_PATTERN, help="origin/id of the mentoring_programme"),
        _str("programme_name", 120, required=True),
        _map("mentor", *_PAIR_PERSON, required=True),
        _map("mentee", *_PAIR_PERSON, required=True),
        _enum("status", "proposed", "active", "declined", "closed", required=True),
        _str("note", 2000, help="the coordinator's word to the pair"),
        _ms("updated_at", required=True, help="the newest snapshot wins"),
    ),
    help=(
        "a mentoring pair as the programme's node holds it, sent to the mentor's and the mentee's nodes "
        "(proposal, then each change)"
    ),
    direct=True,
)

MENTORING_PAIR_ANSWER = RecordType(
    "mentoring_pair_answer",
    (1, 0),
    (
        TO_NODE,
        _id("pair", required=True),
        _enum("role", "mentor", "mentee", required=True),
        _id("member", required=True, help="the member answering, on the sender"),
        _enum("action", "accept", "decline", "close", required=True),
        _str("feedback", 2000, help="with close: the member's short feedback, for the coordinator"),
        _ms("at", required=True),
    ),
    help="a member's answer to a mentoring pair, sent by their node to the programme's node",
    direct=True,
)

MENTORING_CHECKIN = RecordType(
    "mentoring_checkin",
    (1, 0),
    (
        TO_NODE,
        _id("pair", required=True),
        Field("date", "date", required=True, help="the day the pair met"),
        _str("note", 1000, help="for the pair and the coordinator only"),
        _node("by_node", required=True),
        _str("by_name", 120, required=True),
    ),
    help="a meeting of a mentoring pair, sent to the pair's other nodes (the programme's, the mentor's, the mentee's)",
    direct=True,
)

MENTORING_TYPES: Final = (MENTORING_PROGRAMME, MENTORING_PAIR, MENTORING_PAIR_ANSWER, MENTORING_CHECKIN)

RECORD_TYPES: Final[dict[str, RecordType]] = {
    t.name: t
    for t in (
        NODE,
        PROFILE,
        OFFER,
        MENTORING,
        EVENT,
        HELP_REQUEST,
        HELP_ANSWER,
        TOMBSTONE,
        PROPOSAL,
        ADMISSION_VOTE,
        KEY_REVOCATION,
        FORK_REPAIR,
        MESSAGE,
        MEMBER_MOVE,
        MEMBER_MOVE_ACCEPTANCE,
        CASE_SHARE,
        CASE_WITHDRAWAL,
        EVENT_REGISTRATION,
        EVENT_REGISTRATION_ANSWER,
        ERASURE_RECEIPT,
        *BOOKING_RECORD_TYPES,
        *MENTORING_TYPES,
    )
}
DIRECT_TYPES: Final = frozenset(name for name, t in RECORD_TYPES.items() if t.direct)


# ----------------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Record:
    """An entry whose signature has been checked and whose body fits its type (or was erased)."""

    entry: Entry
    body: dict[str, Value] | None

    @property
    def type(self) -> str:
        return self.entry.header.type

    @property
    def origin(self) -> str:
        return self.entry.header.origin

    @property
    def id(self) -> str:
        return self.entry.header.id

    @property
    def seq(self) -> int:
        return self.entry.header.seq


def check_body(entry: Entry) -> dict[str, Value] | None:
    """Decode and validate an entry's body against its type; None when the body was erased."""
    h = entry.header
    record_type = RECORD_TYPES.get(h.type)
    if record_type is None:
        raise SchemaError(f"unknown record type {h.type!r}")
    if record_type.fixed_id is not None and h.id != record_type.fixed_id:
        raise SchemaError(f"a {h.type} record always has id {record_type.fixed_id!r}")
    if h.type_version[0] != record_type.version[0]:
        raise UnsupportedVersionError(
            f"{h.type} version {h.type_version[0]}.{h.type_version[1]}; "
            f"this node speaks {record_type.version[0]}.{record_type.version[1]}"
        )
    if record_type.direct and h.seq != 1:
        raise SchemaError(f"a {h.type} is a direct record: its seq is always 1")
    if entry.body is None:
        return None
    body = _decode_body(entry.body)
    try:
        record_type.validate(body, h.type_version, wire=True)
    except (SchemaError, NonCanonicalError):
        # The fast decode left key order to the schema walk; the spec checks the whole encoding first, so a
        # canonical fault anywhere in the body takes precedence over a schema fault.
        canonical.decode(entry.body)
        raise
    return body


def _decode_body(raw: bytes) -> dict[str, Value]:
    """Decode a body for schema validation.

    The schema checks every known field's type and every map's key order, so the canonical walk would repeat
    that work: here the fast path only proves shortest forms (by re-packing). Fields the schema does not know
    (a newer minor version) get the full canonical check in ``check_map``. On any doubt, the generic decoder
    names the fault.
    """
    try:
        value = canonical.unpack_unchecked(raw, canonical.DEFAULT_LIMITS)
        ok = type(value) is dict and msgpack.packb(value, use_bin_type=True) == raw
    except Exception:
        ok = False
    if ok:
        return value  # type: ignore[no-any-return]
    generic = canonical.decode(raw, canonical.DEFAULT_LIMITS)
    if not isinstance(generic, dict):
        raise MalformedError("a record body must be a map")
    return generic


def open_record(data: bytes, keys: KeyResolver) -> Record:
    """The whole single-record pipeline: parse, check the signature, validate the body."""
    entry = decode_entry(data)
    verify(entry, keys)
    return Record(entry, check_body(entry))


def check_log_entry(entry: Entry) -> None:
    """Refuse an entry that may not be part of a log: a direct type (docs/PROTOCOL.md §6)."""
    if entry.header.type in DIRECT_TYPES:
        raise SchemaError(f"a {entry.header.type} is a direct record, never part of a log")


def open_run(blobs: list[bytes], keys: KeyResolver, after: tuple[int, bytes] | None = None) -> list[Record]:
    """A run of one origin's consecutive entries, proven by one signature (see :func:`verify_chain`)."""
    entries = [decode_entry(b) for b in blobs]
    for entry in entries:
        check_log_entry(entry)
    verify_chain(entries, keys, after)
    return [Record(e, check_body(e)) for e in entries]


# ----------------------------------------------------------------------------------------- direct records


def open_direct(data: bytes, keys: KeyResolver, *, to_node: str) -> Record:
    """The direct-record pipeline (docs/PROTOCOL.md §8.1): a record sent to ``to_node`` alone, verified alone.

    In this order: decode (5.1, with the direct envelope limit); a type that is not direct, or a seq other than
    1 → ``schema``; an erased body → ``malformed``; verify (5.2); check the body (5.3); a ``to_node`` other than
    the receiver → ``malformed``.
    """
    entry = decode_entry(data, max_bytes=MAX_DIRECT_ENVELOPE_BYTES)
    h = entry.header
    if h.type not in DIRECT_TYPES:
        raise SchemaError(f"a {h.type} record is not a direct record")
    if h.seq != 1:
        raise SchemaError(f"a {h.type} is a direct record: its seq is always 1")
    if entry.body is None:
        raise MalformedError("a direct record always carries its body")
    verify(entry, keys)
    body = check_body(entry)
    assert body is not None
    if body["to_node"] != to_node:
        raise MalformedError(f"the {h.type} is addressed to {body['to_node']!r}, not to {to_node!r}")
    return Record(entry, body)


def sign_direct(key: SigningKey, *, type: str, origin: str, id: str, now: int, body: Mapping[str, Any]) -> Entry:
    """Validate ``body`` against the direct type ``type`` and sign it: seq 1, prev nil, ``created`` = ``ts`` =
    ``now``. A body that breaks the schema is a :class:`SchemaError`; one over the direct envelope limit, a
    :class:`LocalProtocolError`."""
    record_type = RECORD_TYPES.get(type)
    if record_type is None or not record_type.direct:
        raise LocalProtocolError(f"{type!r} is not a direct record type")
    record_type.validate(body)
    return sign_entry(
        key,
        type=type,
        type_version=record_type.version,
        origin=origin,
        id=id,
        seq=1,
        created=now,
        ts=now,
        prev=None,
        body=body,
        max_bytes=MAX_DIRECT_ENVELOPE_BYTES,
    )
