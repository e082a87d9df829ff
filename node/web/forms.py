"""Reading the pickers of the forms: what a trade picker holds (checked chips and typed words)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multidict import MultiDictProxy

from node.reference.vocabulary import TradeVocabulary


def form_trades(form: MultiDictProxy[Any] | Mapping[str, Any], name: str, vocabulary: TradeVocabulary) -> tuple[
    list[dict[str, str]], list[str]
]:  # fmt: skip
    """The trades a form holds: the checked chips (codes) plus the words typed in ``<name>_words``, each word
    read as the vocabulary's best match; returns the trades and the words that match none."""
    codes = form.getall(name, []) if isinstance(form, MultiDictProxy) else list(form.get(name, []))
    chosen: dict[str, dict[str, str]] = {}
    for code in codes:
        trade = vocabulary.by_code(str(code))
        if trade is not None:
            chosen[trade.rome] = {"rome": trade.rome, "label": trade.label_fr}
    unknown: list[str] = []
    for word in str(form.get(f"{name}_words", "") or "").split(","):
        word = word.strip()
        if not word:
            continue
        found = vocabulary.search(word, limit=1)
        if found:
            chosen.setdefault(found[0].rome, {"rome": found[0].rome, "label": found[0].label_fr})
        else:
            unknown.append(word)
    return list(chosen.values()), unknown
