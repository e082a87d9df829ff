"""Search text: how words are folded for the full-text index and for queries, and how a body's words are read.

Text is normalised before it is stored or searched (Unicode NFKD, accents and case dropped, anything but
letters and digits turned into spaces), so "Menuisière" finds "menuisiere" on SQLite (FTS5) and PostgreSQL
(tsvector) alike.

This is one of the node's two normalisers, on purpose. :func:`node.reference.vocabulary.normalise` makes the
lookup keys of trades and places (it spells ligatures out, "manœuvre" -> "manoeuvre", and keeps symbols other
than punctuation); this one makes the words of the full-text index, where only ``[0-9a-z]`` survives. Merging
them would change the words of every stored search document (a reindex of every node) and the keys the
gazetteer and vocabulary match on, so they stay apart; a change to either must keep its own keys stable.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Final

MAX_QUERY_TERMS: Final = 8
_NON_WORD: Final = re.compile(r"[^0-9a-z]+")

# Fast path of normalise(): text whose decomposed form is ASCII plus the combining accents of U+0300..U+036F
# (all of them combining except U+034F), which covers French and English; anything else takes the general path.
_NOT_LATIN_ACCENTED: Final = re.compile("[^\x00-\x7f\u0300-\u034e\u0350-\u036f]")
_ASCII_WORDS: Final = bytes(c if chr(c) in "0123456789abcdefghijklmnopqrstuvwxyz" else 32 for c in range(256))


def normalise(value: str) -> str:
    """The words of ``value`` as the index holds them: folded to ``[0-9a-z]``, one space between words."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    if decomposed.isascii():
        raw = decomposed.encode("ascii")
    elif _NOT_LATIN_ACCENTED.search(decomposed) is None:
        raw = decomposed.encode("ascii", "ignore")  # drops exactly the accents
    else:
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
        return _NON_WORD.sub(" ", stripped).strip()
    return b" ".join(raw.translate(_ASCII_WORDS).split()).decode("ascii")


def terms(query: str) -> list[str]:
    """The words of a query, normalised, at most :data:`MAX_QUERY_TERMS` of them."""
    return [t for t in normalise(query).split() if t][:MAX_QUERY_TERMS]


def flatten(value: object) -> Iterable[str]:
    """Every string and number in a JSON-like value, in order (booleans and None hold no words)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from flatten(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from flatten(item)


def words(value: object, out: list[str]) -> None:
    """Append to ``out`` what :func:`flatten` yields for ``value``, without its generators (a bootstrap reads
    100,000 bodies: the plain types are walked here, anything rarer by :func:`flatten`; tests hold the two equal)."""
    kind = type(value)
    if kind is str:
        out.append(value)  # type: ignore[arg-type]
    elif kind is dict:
        for item in value.values():  # type: ignore[attr-defined]
            words(item, out)
    elif kind is list:
        for item in value:  # type: ignore[attr-defined]
            words(item, out)
    elif kind is int:
        out.append(str(value))
    elif kind is not bool and value is not None:
        out.extend(flatten(value))  # subclasses, tuples, other mappings: the reference walk
