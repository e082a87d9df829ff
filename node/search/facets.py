"""What a search document holds besides its text: facet columns and multi-valued tags, derived from a body.

One function turns (kind, origin, id, text per audience, body per audience) into the rows of
``search_documents`` (each with its ``tags``, which :func:`node.search.index.store_documents` turns into a
facet set), for the node's own records (:mod:`node.storage.publisher`), for one received
record (:func:`node.storage.log.store_received`) and for bulk runs (:mod:`node.storage.replica`). Facets of an
audience come only from the fields that audience may read (a profile's public document gets the public fields'
town and trades, nothing else), so a filter or a count can never reveal a field through the back door.

Bilingual matching is done at index time: a received record's text gets every French and English label and
synonym of its trade codes (what :meth:`~node.reference.data.Reference.trade_text` already adds to the
node's own records), so a query word in either language meets the record in the full-text index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.clock import utc_datetime
from node.reference.vocabulary import TradeVocabulary, load_trades
from node.search import index as search

_vocabulary: list[TradeVocabulary] = []


_normalised_words: dict[str, str] = {}  # trade code -> its words, normalised (for the vocabulary in use)


def use_vocabulary(vocabulary: TradeVocabulary) -> None:
    """Index with this vocabulary (the node's, with the operator's extra file) instead of the shipped one."""
    _vocabulary[:] = [vocabulary]
    _normalised_words.clear()


def vocabulary() -> TradeVocabulary:
    return _vocabulary[0] if _vocabulary else load_trades()


def trade_words(body: Mapping[str, Any]) -> str:
    """Both languages' labels and synonyms of the trade codes of a body, for the full-text index."""
    vocab = vocabulary()
    words: list[str] = []
    for trade in body.get("trades") or ():
        code = trade.get("rome") if isinstance(trade, Mapping) else None
        found = vocab.by_code(code) if isinstance(code, str) else None
        if found is not None:
            words += (found.label_fr, found.label_en, *found.synonyms)
    return " ".join(words)


def normalised_trade_words(body: Mapping[str, Any]) -> str:
    """:func:`trade_words`, normalised, from a cache per trade code (a bootstrap indexes the same few hundred
    trades' words over and over; normalising them cost about a tenth of deriving a record's documents)."""
    parts: list[str] = []
    for trade in body.get("trades") or ():
        code = trade.get("rome") if isinstance(trade, Mapping) else None
        if not isinstance(code, str):
            continue
        words = _normalised_words.get(code)
        if words is None:
            words = _normalised_words[code] = search.normalise(trade_words({"trades": [{"rome": code}]}))
        if words:
            parts.append(words)
    return " ".join(parts)


def _date_of_ms(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return utc_datetime(value).date().isoformat()
    return None


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


def _text(value: object, size: int) -> str | None:
    return value[:size] if isinstance(value, str) and value else None


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


def rows(
    kind: str,
    origin: str,
    record_id: str,
    texts: Mapping[str, str],
    bodies: Mapping[str, Mapping[str, Any]],
    ts: int,
    *,
    normalised: bool = False,
) -> list[dict[str, Any]]:
    """Rows of ``search_documents`` of one record, each with its ``tags``; ``bodies``: what each audience may read
    (an audience without a body gets its text and no facets). ``normalised``: the texts already are."""
    documents: list[dict[str, Any]] = []
    for audience, raw in texts.items():
        content = raw if normalised else search.normalise(raw)
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


def received_bodies(kind: str, body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """What each audience may read of a received body: a profile's ``public`` fields for ``public``, the whole
    body for ``network`` (the audiences of :func:`node.storage.log.network_texts`)."""
    if kind == "profile":
        public = set(body.get("public") or ())
        return {"network": body, "public": {k: v for k, v in body.items() if k in public}}
    return {"network": body}


def received_rows(
    documents: list[dict[str, Any]], records: Mapping[str, tuple[str, Mapping[str, Any], int]]
) -> list[dict[str, Any]]:
    """Complete the text-only documents of received records (as :func:`node.storage.replica.derive` makes them):
    trade words added to the text, facet columns, freshness and tags. ``records``: record id → (type, body, ts)."""
    out: list[dict[str, Any]] = []
    bodies_of: dict[str, dict[str, Mapping[str, Any]]] = {}
    for document in documents:
        record_id = document["record_id"]
        kind, body, ts = records[record_id]
        bodies = bodies_of.get(record_id)
        if bodies is None:
            bodies = bodies_of[record_id] = received_bodies(kind, body)
        seen = bodies.get(document["audience"]) or {}
        extra = normalised_trade_words(seen)
        content = document["content"] + " " + extra if extra else document["content"]
        out.append(
            {
                **document,
                "content": content,
                **facet_columns(kind, seen),
                "ts": ts,
                "tags": tuple(sorted(tags_of(seen))),
            }
        )
    return out
