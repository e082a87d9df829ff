"""The bilingual trade vocabulary: ROME job codes with French and English labels and synonyms.

Why a curated file: members describe their trade in words ("menuisière", "motion designer", "dev python"),
but search across coops needs codes that mean the same thing everywhere. France's ROME codes are public; the
one registry package for them ships no data, so ``data/trades.csv`` keeps a few hundred trades relevant to
coop members, and an operator can add or override rows with a file of the same columns.

``normalise`` makes the lookup keys of trades and places (the gazetteer uses it too), so that "Saint-Denis",
"saint denis" and "SAINT DENIS" meet in the same key. The full-text index has its own normaliser,
:func:`node.search.text.normalise` (only ``[0-9a-z]`` survives there, and ligatures are not spelled out): the two
are kept apart because merging them would change the keys of every stored search document and of these lookups.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_TRADES: Final = Path(__file__).resolve().parent.parent / "data" / "trades.csv"
COLUMNS: Final = ("rome", "label_fr", "label_en", "synonyms_fr", "synonyms_en", "related", "esco")
ROME_RE: Final = re.compile(r"[A-N][0-9]{4}\Z")
_ESCO_RE: Final = re.compile(r"https?://\S+\Z")
_SPACES: Final = re.compile(r"[\s\-‐‑–—_'’/.,;:()]+")


def normalise(text: str) -> str:
    """Lowercase, strip accents, turn hyphens, apostrophes and punctuation into single spaces.

    "Saint-Denis" -> "saint denis", "Menuisière" -> "menuisiere", "L'Haÿ-les-Roses" -> "l hay les roses".
    Ligatures (œ, æ) are spelled out so that "manoeuvre" finds "manœuvre".
    """
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped).strip()


class VocabularyError(ValueError):
    """A trades file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Trade:
    rome: str
    label_fr: str
    label_en: str
    synonyms: tuple[str, ...]
    related: tuple[str, ...]
    esco: str | None


# Scores of one indexed term against a query; the best term of a trade ranks it.
_EXACT, _PREFIX, _WORDS, _INSIDE = 100, 80, 60, 40


@dataclass(frozen=True, slots=True)
class _Term:
    text: str  # normalised
    compact: str  # without spaces: "cyclo logisticienne" meets "cyclologisticienne"
    words: tuple[str, ...]
    rome: str
    is_label: bool


class TradeVocabulary:
    """Lookup and search over trades; built once, read-only afterwards."""

    def __init__(self, trades: list[Trade]) -> None:
        self._by_code = {t.rome: t for t in sorted(trades, key=lambda t: t.rome)}
        self._terms: list[_Term] = []
        self._exact: dict[str, set[str]] = {}
        for t in self._by_code.values():
            seen: set[str] = set()
            for i, raw in enumerate((t.label_fr, t.label_en, *t.synonyms)):
                text = normalise(raw)
                if text and text not in seen:
                    seen.add(text)
                    self._terms.append(_Term(text, text.replace(" ", ""), tuple(text.split()), t.rome, i < 2))
                    self._exact.setdefault(text, set()).add(t.rome)

    def __len__(self) -> int:
        return len(self._by_code)

    def by_code(self, code: str) -> Trade | None:
        return self._by_code.get(code.strip().upper())

    def all(self) -> list[Trade]:
        """Every trade, sorted by code."""
        return list(self._by_code.values())

    def label(self, code: str, lang: str) -> str:
        """The label in ``lang`` ("fr" or "en"; anything else gets French); an unknown code is returned as is,
        so that a record naming a code this node does not know still displays something."""
        trade = self.by_code(code)
        if trade is None:
            return code
        return trade.label_en if lang.lower().startswith("en") else trade.label_fr

    def search(self, text: str, limit: int = 10) -> list[Trade]:
        """Trades whose labels or synonyms (either language) match ``text``, best first.

        Ranking: exact term, then a term starting with the query (what the user is typing), then every query
        word starting a word of the term, then the query inside a term; labels before synonyms, shorter terms
        before longer ones. A ROME code typed as such ("h2206") matches its trade first.
        """
        q = normalise(text)
        if not q or limit <= 0:
            return []
        q_words, q_compact = q.split(), q.replace(" ", "")
        best: dict[str, tuple[int, int, int]] = {}  # rome -> (score, is_label, -len(term))
        code = self.by_code(q) if ROME_RE.match(q.upper()) else None
        if code is not None:
            best[code.rome] = (_EXACT + 10, 1, 0)
        for term in self._terms:
            if term.text == q or term.compact == q_compact:
                score = _EXACT
            elif term.text.startswith(q) or term.compact.startswith(q_compact):
                score = _PREFIX
            elif all(any(w.startswith(qw) for w in term.words) for qw in q_words):
                score = _WORDS
            elif len(q) >= 3 and q in term.text:
                score = _INSIDE
            else:
                continue
            rank = (score, int(term.is_label), -len(term.text))
            if rank > best.get(term.rome, (0, 0, 0)):
                best[term.rome] = rank
        ordered = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1], -item[1][2], item[0]))
        return [self._by_code[rome] for rome, _ in ordered[:limit]]

    def expand(self, text: str) -> set[str]:
        """The codes that the words of ``text`` name, plus their related codes, for search.

        Only exact terms count (a word, or a run of up to four words such as "graphic designer"), with a
        trailing plural "s"/"x" forgiven, and ROME codes typed as such: a query "menuisier Montreuil" expands
        to H2206 and its neighbours, not to every trade containing "men".
        """
        words = normalise(text).split()
        found: set[str] = set()
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + 4) + 1):
                phrase = " ".join(words[i:j])
                for candidate in (phrase, phrase[:-1] if phrase[-1:] in ("s", "x") else phrase):
                    found |= self._exact.get(candidate, set())
            if ROME_RE.match(words[i].upper()) and words[i].upper() in self._by_code:
                found.add(words[i].upper())
        related = {r for code in found for r in self._by_code[code].related}
        return found | related


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


def _read(path: Path) -> dict[str, tuple[Trade, int]]:
    """Rows of one file, keyed by code, with the line each came from (for error messages)."""
    rows: dict[str, tuple[Trade, int]] = {}
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise VocabularyError(f"{path}: cannot read trades file ({exc.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise VocabularyError(f"{path}:1: header must be {','.join(COLUMNS)}, got {header!r}")
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(COLUMNS):
                raise VocabularyError(f"{path}:{line}: expected {len(COLUMNS)} columns, got {len(record)}")
            rome, label_fr, label_en, syn_fr, syn_en, related, esco = (cell.strip() for cell in record)
            if not ROME_RE.match(rome):
                raise VocabularyError(f"{path}:{line}: bad ROME code {rome!r} (a letter A-N and four digits)")
            if rome in rows:
                raise VocabularyError(f"{path}:{line}: duplicate ROME code {rome} (first on line {rows[rome][1]})")
            if not label_fr or not label_en:
                raise VocabularyError(f"{path}:{line}: {rome} needs both label_fr and label_en")
            related_codes = _split(related)
            for code in related_codes:
                if not ROME_RE.match(code):
                    raise VocabularyError(f"{path}:{line}: bad related ROME code {code!r}")
            if esco and not _ESCO_RE.match(esco):
                raise VocabularyError(f"{path}:{line}: esco must be an http(s) URI, got {esco!r}")
            trade = Trade(rome, label_fr, label_en, _split(syn_fr) + _split(syn_en), related_codes, esco or None)
            rows[rome] = (trade, line)
    return rows


def _build(paths: tuple[Path, ...]) -> TradeVocabulary:
    merged: dict[str, tuple[Trade, Path, int]] = {}
    for path in paths:  # later files override earlier ones, code by code
        for rome, (trade, line) in _read(path).items():
            merged[rome] = (trade, path, line)
    for trade, path, line in merged.values():
        unknown = [code for code in trade.related if code not in merged]
        if unknown:
            raise VocabularyError(f"{path}:{line}: {trade.rome} is related to unknown code(s) {', '.join(unknown)}")
    return TradeVocabulary([trade for trade, _, _ in merged.values()])


@functools.lru_cache(maxsize=1)
def _default() -> TradeVocabulary:
    return _build((DEFAULT_TRADES,))


def load_trades(extra: Path | None = None) -> TradeVocabulary:
    """The shipped vocabulary (cached), or the shipped one merged with an operator file (rows override by
    code; read afresh on each call so that an edited file is picked up on reload)."""
    if extra is None:
        return _default()
    return _build((DEFAULT_TRADES, Path(extra)))
