"""The pages' languages: complete catalogs, Accept-Language with q-values, a third language added by a catalog
alone, every enumeration code a word, server refusals in the page's language, formats per language."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from node.errors import Conflict, InvalidInput, NodeError, NotFound, TooManyAttempts
from node.reference.data import load_reference
from node.services import onboarding_rules as rules
from node.services.member_path import PATH_STATUSES
from node.web import i18n
from node.web.errors import explain, field_message, general
from node.web.labels import LABELS
from protocol import RECORD_TYPES
from scripts import i18n as catalogs_tool

TEMPLATES = Path(__file__).resolve().parents[2] / "node" / "web" / "templates"


def fr() -> i18n.Lang:
    return i18n.lang_for("fr", "Europe/Paris")


def en() -> i18n.Lang:
    return i18n.lang_for("en", "Europe/Paris")


def test_catalogs_are_complete_and_up_to_date() -> None:
    assert catalogs_tool.problems() == []


def test_templates_use_no_keyed_table_any_more() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\bt\[", text), template.name


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-GB,en;q=0.8", "en"),
        ("fr-BE", "fr"),
        ("de-DE,en;q=0.5,fr;q=0.9", "fr"),  # q-values, not order: French is wanted more than English
        ("de-DE,fr;q=0.2,en;q=0.7", "en"),
        ("en;q=0, fr", "fr"),  # q=0 means "not English"
        ("de-DE", "fr"),  # nothing offered: French
        ("*", "fr"),
        ("garbage;;;,en;q=abc", "fr"),  # a broken q reads as 0
        (None, "fr"),
    ],
)
def test_accept_language_q_values(header: str | None, expected: str) -> None:
    assert i18n.choose_language(None, None, header) == expected


def test_query_and_cookie_win_over_the_header() -> None:
    assert i18n.choose_language("en", "fr", "fr-FR") == "en"
    assert i18n.choose_language(None, "en", "fr-FR") == "en"
    assert i18n.choose_language("xx", None, "en") == "en"  # an unknown choice is ignored


def test_a_third_language_is_a_catalog_and_no_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dutch for SMart: a copied template, translated, in its folder; the node then offers it."""
    for code in ("fr", "en"):
        shutil.copytree(i18n.LOCALES / code, tmp_path / code)
    shutil.copy(i18n.LOCALES / "messages.pot", tmp_path / "messages.pot")
    template = (tmp_path / "messages.pot").read_text(encoding="utf-8")
    dutch = template.replace(
        'msgid "Search the network"\nmsgstr ""', 'msgid "Search the network"\nmsgstr "Zoek in het netwerk"'
    )
    dutch = dutch.replace(
        '"Content-Type: text/plain; charset=utf-8\\n"',
        '"Content-Type: text/plain; charset=utf-8\\n"\n"Language: nl\\n"',
    )
    (tmp_path / "nl" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "nl" / "LC_MESSAGES" / "messages.po").write_text(dutch, encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.catalogs.cache_clear()
    i18n.lang_for.cache_clear()
    try:
        assert i18n.languages() == ("fr", "en", "nl")
        assert i18n.choose_language(None, None, "nl-BE,nl;q=0.9,en;q=0.5") == "nl"
        dutch_lang = i18n.lang_for("nl", "Europe/Brussels")
        assert dutch_lang.gettext("Search the network") == "Zoek in het netwerk"
        assert dutch_lang.gettext("Page not found") == "Page not found"  # not translated yet: the English
        assert i18n.own_name("nl") == "Nederlands"
        assert dutch_lang.date(1_796_662_800_000) == "7 december 2026"  # Dutch month names from CLDR
    finally:
        i18n.catalogs.cache_clear()
        i18n.lang_for.cache_clear()


def test_every_enumeration_code_has_a_word() -> None:
    schema = {t.name: {f.name: f for f in t.fields} for t in RECORD_TYPES.values()}
    groups = {
        "event_kind": schema["event"]["kind"].choices,
        "event_status": schema["event"]["status"].choices,
        "registration_mode": schema["event"]["registration"].choices,
        "offer_purpose": schema["offer"]["purpose"].choices,
        "offer_status": schema["offer"]["status"].choices,
        "reciprocity": schema["offer"]["reciprocity"].choices,
        "mentoring_kind": schema["mentoring"]["kind"].choices,
        "mentoring_status": schema["mentoring"]["status"].choices,
        "help_status": schema["help_request"]["status"].choices,
        "urgency": schema["help_request"]["urgency"].choices,
        "project_stage": schema["profile"]["stage"].choices,
        "coop_status": schema["profile"]["coop_status"].choices,
        "contact_preference": schema["profile"]["contact_preference"].choices,
        "proposal_kind": schema["proposal"]["kind"].choices,
        "vote": schema["admission_vote"]["decision"].choices,
        "case_stage": rules.STAGES,
        "target_form": rules.TARGET_FORMS,
        "origin_kind": rules.ORIGIN_KINDS,
        "stakeholder": rules.STAKEHOLDERS,
    }
    assert set(PATH_STATUSES) <= set(LABELS["coop_status"])
    for group, codes in groups.items():
        for code in codes:
            assert code in LABELS[group], (group, code)
            word = fr().label(group, code)
            assert word and word != code and "_" not in word, (group, code, word)
    assert fr().label("event_kind", "from_a_newer_peer") == "autre"
    assert en().label("nonexistent_group", "x") == "other"


def test_server_refusals_read_in_the_page_language() -> None:
    reference = load_reference()
    cases: list[NodeError] = []
    for value in ("Saint-Ouen", "Nowhereville", "93999", "H9999"):
        try:
            reference.place(value) if not value.startswith("H") else reference.trade(value)
        except InvalidInput as exc:
            cases.append(exc)
    cases += [
        InvalidInput("invalid profile: bio: longer than 2000 characters", {"bio": "longer than 2000 characters"}),
        InvalidInput.field("links", "does not match https?://[!-~]+"),
        InvalidInput.field("phone", "is not a phone number"),
        Conflict("this event is full"),
        NotFound("no event smart/abc"),
    ]
    for error in cases:
        explained = explain(error, fr())
        for text in (explained.summary, *explained.fields.values()):
            assert text and not re.search(r"\b(the|is|must|than|towns|called|unknown|characters)\b", text), text
    ambiguous = explain(cases[0], fr())
    assert "Saint-Ouen 41100 (41)" in ambiguous.fields["place"] and "Plusieurs communes" in ambiguous.fields["place"]
    assert field_message("longer than 2000 characters", en()) == "Please write at most 2000 characters."
    throttled = explain(TooManyAttempts("too many", 125), fr()).summary
    assert "3 minutes" in throttled
    assert general(404, fr()) != general(404, en())


def test_formats_per_language_and_time_zone() -> None:
    ms = 1_796_662_800_000  # 2026-12-07 17:00 UTC
    assert fr().time(ms) == "18:00"  # Europe/Paris, winter
    assert en().time(ms) == "18:00"
    assert fr().date(ms) == "7 décembre 2026"
    assert en().date(ms) == "7 December 2026"
    assert i18n.lang_for("fr", "America/Montreal").time(ms) == "12:00"
    assert fr().money(1250).replace("\u202f", " ").replace("\xa0", " ") == "1 250 €"
    assert en().money(1250) == "€1,250"
    assert fr().relative(ms - 3 * 3_600_000, ms) == "il y a 3 heures"
    assert en().relative(ms + 2 * 86_400_000, ms) == "in 2 days"
    assert fr().language("nl") == "Néerlandais"
    assert fr().day_month(ms)[:2] == ("7", "déc.")
