"""Every word of the pages exists in French and English, and every key a template uses is defined."""

from __future__ import annotations

import re
from pathlib import Path

from node.web.i18n import MESSAGES, choose_language, translator

TEMPLATES = Path(__file__).resolve().parents[2] / "node" / "web" / "templates"


def test_every_message_has_both_languages() -> None:
    for key, (fr, en) in MESSAGES.items():
        assert fr.strip() and en.strip(), key


def test_templates_only_use_defined_keys() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used.update(re.findall(r't\["([a-z_.]+)"\]', template.read_text(encoding="utf-8")))
    assert used, "no translated text found in templates"
    assert used <= set(MESSAGES), sorted(used - set(MESSAGES))


def test_language_choice() -> None:
    assert choose_language("en", "fr", "fr-FR") == "en"
    assert choose_language(None, "en", "fr-FR") == "en"
    assert choose_language(None, None, "en-GB,en;q=0.8") == "en"
    assert choose_language(None, None, "de-DE") == "fr"
    assert translator("en")["nav.search"] == "Search" and translator("fr")["nav.search"] == "Rechercher"
