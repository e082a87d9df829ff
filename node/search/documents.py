"""How a record becomes search documents: its text per audience, trade words in both languages, facet columns
and tags. Every path that indexes goes through :class:`SearchDocuments`: the node's own records (the publisher,
a profile kept on the node, the members CSV import) and other origins' records (:mod:`node.records.replica`).

A record is indexed once per *audience* (``public``, ``network``, ``coop``), each document built only from the
fields that audience may read, so that neither a match, a filter nor a facet count can reveal a field through
the back door. Who may read what is the caller's knowledge (the profile's visibility, the offer's); it hands
over one body per audience, and this module decides what of a body is text and what is facet.

Text, by provenance (each rule kept as it was when the three paths were merged here, so that no stored
document changes):

* another origin's record: every string and number of its body (:func:`received_texts`), plus the French and
  English labels and synonyms of its trade codes, from this node's vocabulary;
* this node's profile: each field as a member reads it (a trade's code, labels and synonyms; a place's town,
  postcode, département and region), without ``availability``, ``day_rate_eur`` and ``links``;
* this node's offers, mentoring and events: their descriptive fields, trades as above, skills, topics,
  languages and place.

Bilingual matching is done here, at index time: a query word in either language meets the record in the
full-text index. The trade words come from the node's :class:`~node.reference.vocabulary.TradeVocabulary`
(with the operator's extra file), handed to the constructor, so that received records are indexed with the same
words as the node's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from node.clock import utc_datetime
from node.reference.vocabulary import TradeVocabulary
from node.search.text import normalise, words

INDEXED_TYPES: Final = frozenset({"profile", "offer", "mentoring", "event"})
"""Record types that are searched (received records of other types are stored, never indexed)."""

Bodies = Mapping[str, Mapping[str, Any]]
"""Audience → the fields of the record that audience may read."""

Document = dict[str, Any]
"""A row of ``search_documents`` without its ``colset`` and ``tagset``, with its ``tags``: what
:func:`node.search.index.store_documents` and :func:`~node.search.index.replace_documents` store."""

_PROFILE_SKIPPED: Final = frozenset({"availability", "day_rate_eur", "links"})  # facets or not words
_THING_FIELDS: Final = ("title", "note", "purpose", "description", "organiser", "cadence")
_PLACE_WORDS: Final = ("town", "postcode", "departement", "region")


class SearchDocuments:
    """Builds the search documents of records, with the node's trade vocabulary. Built once per node (it caches
    the words of each trade) and shared by whoever indexes; safe to share between threads (its caches only ever
    gain, for a key, the one value that key has)."""

    def __init__(self, trades: TradeVocabulary) -> None:
        self.trades = trades
        self._trade_texts: dict[str, str] = {}  # trade code -> its code, labels and synonyms
        self._normalised_trade_texts: dict[str, str] = {}  # the same, normalised
        self._normalised_words: dict[str, str] = {}  # trade code -> its labels and synonyms, normalised

    # ---------------------------------------------------------------------------------- this node's records

    def own(self, kind: str, origin: str, record_id: str, bodies: Bodies, ts: int) -> list[Document]:
        """Documents of one of this node's records; ``bodies``: what each audience may read (an audience left out,
        or whose body holds no words, gets no document).

        The audiences share most of what they read, so each field's (a profile's) or each body's (the others')
        words are made and normalised once, and joined per audience (normalising text by parts and joining
        them gives the words of the whole: :func:`~node.search.text.normalise` folds each character alone)."""
        texts: dict[str, str] = {}
        if kind == "profile":
            done: dict[tuple[str, int], str] = {}
            for audience, body in bodies.items():
                parts = (self._profile_field_words(name, value, done) for name, value in body.items())
                texts[audience] = " ".join(p for p in parts if p)
        else:
            made: dict[int, str] = {}
            for audience, body in bodies.items():
                text = made.get(id(body))
                if text is None:
                    text = made[id(body)] = normalise(self._thing_text(body))
                texts[audience] = text
        return rows(kind, origin, record_id, texts, bodies, ts, normalised=True)

    def trade_text(self, code: str) -> str:
        """A trade's code, labels and synonyms (so "carpenter" finds "menuisier"); an unknown code as it is."""
        text = self._trade_texts.get(code)
        if text is None:
            trade = self.trades.by_code(code)
            text = code if trade is None else " ".join((trade.rome, trade.label_fr, trade.label_en, *trade.synonyms))
            self._trade_texts[code] = text
        return text

    def _thing_text(self, body: Mapping[str, Any]) -> str:
        parts = [str(body.get(k, "")) for k in _THING_FIELDS]
        parts += [self.trade_text(t["rome"]) for t in body.get("trades", ()) if "rome" in t]
        parts += [str(s) for s in (*body.get("skills", ()), *body.get("topics", ()), *body.get("languages", ()))]
        place = body.get("place") or {}
        parts += [str(place.get(k, "")) for k in _PLACE_WORDS]
        return " ".join(p for p in parts if p)

    def _profile_field_words(self, name: str, value: Any, done: dict[tuple[str, int], str]) -> str:
        """The normalised words of one profile field (``done``: those already made for this record's audiences,
        by field and value: the audiences' bodies hold the same values)."""
        key = (name, id(value))
        found = done.get(key)
        if found is not None:
            return found
        if name == "trades":
            text = " ".join(self._normalised_trade_text(t["rome"]) for t in value)
        elif name == "place":
            text = normalise(" ".join(str(value.get(k, "")) for k in _PLACE_WORDS))
        elif name in _PROFILE_SKIPPED:
            text = ""
        elif isinstance(value, list):
            text = normalise(" ".join(str(v) for v in value))
        else:
            text = normalise(str(value))
        done[key] = text
        return text

    def _normalised_trade_text(self, code: str) -> str:
        found = self._normalised_trade_texts.get(code)
        if found is None:
            found = self._normalised_trade_texts[code] = normalise(self.trade_text(code))
        return found

    # ------------------------------------------------------------------------------- other origins' records

    def received(self, kind: str, origin: str, record_id: str, body: Mapping[str, Any], ts: int) -> list[Document]:
        """Documents of another origin's record (none for a type that is not searched). The bulk path of a
        bootstrap: every step here runs once per received record."""
        if kind not in INDEXED_TYPES:
            return []
        bodies = received_bodies(kind, body)
        out: list[Document] = []
        for audience, raw in received_texts(kind, body).items():
            content = normalise(raw)
            if not content:
                continue
            seen = bodies.get(audience) or {}
            extra = self._normalised_trade_words(seen)
            out.append(
                {
                    "kind": kind,
                    "origin": origin,
                    "record_id": record_id,
                    "audience": audience,
                    "content": content + " " + extra if extra else content,
                    **facet_columns(kind, seen),
                    "ts": ts,
                    "tags": tuple(sorted(tags_of(seen))),
                }
            )
        return out

    def _trade_words(self, body: Mapping[str, Any]) -> str:
        """Both languages' labels and synonyms of the trade codes of a body (codes this node does not know add
        nothing)."""
        found_words: list[str] = []
        for trade in body.get("trades") or ():
            code = trade.get("rome") if isinstance(trade, Mapping) else None
            found = self.trades.by_code(code) if isinstance(code, str) else None
            if found is not None:
                found_words += (found.label_fr, found.label_en, *found.synonyms)
        return " ".join(found_words)

    def _normalised_trade_words(self, body: Mapping[str, Any]) -> str:
        """:meth:`_trade_words`, normalised, from a cache per trade code (a bootstrap indexes the same few hundred
        trades' words over and over; normalising them cost about a tenth of deriving a record's documents)."""
        parts: list[str] = []
        for trade in body.get("trades") or ():
            code = trade.get("rome") if isinstance(trade, Mapping) else None
            if not isinstance(code, str):
                continue
            found = self._normalised_words.get(code)
            if found is None:
                found = self._normalised_words[code] = normalise(self._trade_words({"trades": [{"rome": code}]}))
            if found:
                parts.append(found)
        return " ".join(parts)


def received_bodies(kind: str, body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """What each audience may read of a received body: a profile's ``public`` fields for ``public``, the whole
    body for ``network`` (the audiences of :func:`received_texts`)."""
    if kind == "profile":
        public = set(body.get("public") or ())
        return {"network": body, "public": {k: v for k, v in body.items() if k in public}}
    return {"network": body}


def received_texts(kind: str, body: Mapping[str, Any]) -> dict[str, str]:
    """Search texts of a received body: every word for the ``network`` audience; a profile's fields listed in its
    ``public`` list also for the ``public`` audience (the list itself is no text)."""
    if kind != "profile":
        everything: list[str] = []
        words(body, everything)
        return {"network": " ".join(everything)}
    public_fields = set(body.get("public") or ())
    network: list[str] = []
    public: list[str] = []
    for key, value in body.items():
        if key != "public":
            words(value, network)
        if key in public_fields:
            words(value, public)
    return {"network": " ".join(network), "public": " ".join(public)}


def rows(
    kind: str,
    origin: str,
    record_id: str,
    texts: Mapping[str, str],
    bodies: Bodies,
    ts: int,
    *,
    normalised: bool = False,
) -> list[Document]:
    """Documents of one record from its ``texts`` (audience → text, normalised here unless ``normalised``; an
    empty one gives no document) and ``bodies`` (audience → the fields it may read: its facets; an audience
    without one gets its text and no facets)."""
    documents: list[Document] = []
    for audience, raw in texts.items():
        content = raw if normalised else normalise(raw)
        if not content:
            continue
        body = bodies.get(audience) or {}
        documents.append(
            {
                "kind": kind,
                "origin": origin,
                "record_id": record_id,
                "audience": audience,
                "content": content,
                **facet_columns(kind, body),
                "ts": ts,
                "tags": tuple(sorted(tags_of(body))),
            }
        )
    return documents


def facet_columns(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The facet columns of ``search_documents`` for a body (the fields one audience may read)."""
    place = body.get("place")
    place = place if isinstance(place, Mapping) else {}
    status = body.get("status")
    avail_from = body.get("from")
    avail_until = body.get("until")
    if kind == "profile":
        availability = body.get("availability")
        availability = availability if isinstance(availability, Mapping) else {}
        status, avail_from, avail_until = (availability.get(k) for k in ("status", "from", "until"))
    elif kind == "event":
        avail_from = _date_of_ms(body.get("start"))
        avail_until = _date_of_ms(body.get("end")) or avail_from
    lat, lon = place.get("lat_e6"), place.get("lon_e6")
    return {
        "departement": _text(place.get("departement"), 3),
        "town": _text(place.get("town"), 80),
        "lat_e6": lat if isinstance(lat, int) and isinstance(lon, int) else None,
        "lon_e6": lon if isinstance(lat, int) and isinstance(lon, int) else None,
        "stage": _text(body.get("stage"), 16),
        "status": _text(status, 16),
        "avail_from": _text(avail_from, 10),
        "avail_until": _text(avail_until, 10),
    }


def tags_of(body: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(facet, value) pairs of the multi-valued facets of a body."""
    tags: set[tuple[str, str]] = set()
    for trade in body.get("trades") or ():
        code = trade.get("rome") if isinstance(trade, Mapping) else None
        if isinstance(code, str) and code:
            tags.add(("trade", code[:16]))
    for language in body.get("languages") or ():
        if isinstance(language, str) and language:
            tags.add(("language", language[:16].lower()))
    return tags


def _date_of_ms(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return utc_datetime(value).date().isoformat()
    return None


def _text(value: object, size: int) -> str | None:
    return value[:size] if isinstance(value, str) and value else None
