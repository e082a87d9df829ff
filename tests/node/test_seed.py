"""Demo data: deterministic, consistent with the vocabulary and places, and valid record bodies."""

import random

import pytest

from node.demo.seed import (
    COOPS,
    MEMBER_COLUMNS,
    TRADE_MIX,
    generate_events,
    generate_help_requests,
    generate_members,
    generate_mentoring,
    generate_offers,
    placeholder_member_id,
)
from node.reference.places import load_places
from node.reference.vocabulary import load_trades
from protocol import RECORD_TYPES


@pytest.fixture(scope="module")
def members():
    return generate_members("coopaname", 300, random.Random(7))


def test_same_seed_same_output():
    a = generate_members("smart", 120, random.Random(42))
    b = generate_members("smart", 120, random.Random(42))
    assert a == b
    assert a != generate_members("smart", 120, random.Random(43))
    for gen in (generate_offers, generate_mentoring, generate_events, generate_help_requests):
        assert gen(a, random.Random(1), 30) == gen(b, random.Random(1), 30)


def test_member_rows(members):
    assert len(members) == 302
    assert all(tuple(row) == MEMBER_COLUMNS for row in members)
    assert [m["role"] for m in members[:2]] == ["operator", "advisor"]
    assert members[0]["email"] == "operateur@coopaname.example"
    assert members[1]["email"] == "conseil@coopaname.example"
    assert {m["role"] for m in members[2:]} == {"member"}
    emails = [m["email"] for m in members]
    assert len(set(emails)) == len(emails)
    assert all(e.endswith("@coopaname.example") and e.isascii() for e in emails)


def test_member_fields_are_consistent(members):
    vocab, gaz = load_trades(), load_places()
    for m in members:
        codes = m["trades"].split(";")
        assert all(vocab.by_code(c) for c in codes)
        assert m["languages"].split(";")[0] == "fr"
        place = gaz.find(f"{m['town']} ({m['postcode']})")  # Cergy and Pontoise share 95000
        assert place is not None and place.town == m["town"] and place.postcode == m["postcode"]
        assert place.region == "Île-de-France"
        assert m["stage"] in {"starting", "intermittent", "established"}
        assert m["coop_status"] in {"cape", "salaried_entrepreneur", "associate"}
        assert m["available_from"] <= m["available_until"]
        assert m["available_from"].startswith("2027") and m["available_until"].startswith("2027")
        assert 1 <= int(m["days_per_week"]) <= 5
        assert m["town"] in m["bio"] or m["role"] != "member"
    firsts = [m["trades"].split(";")[0] for m in members[2:]]
    assert firsts.count("K2111") > firsts.count("A1410")  # many trainers, few shepherds
    assert len({m["town"] for m in members}) > 50


def test_trade_mix_is_in_the_vocabulary():
    assert all(load_trades().by_code(code) for code in TRADE_MIX)


def test_three_coops_have_distinct_emails():
    rows = [generate_members(coop, 50, random.Random(i)) for i, coop in enumerate(COOPS)]
    assert len({m["email"] for r in rows for m in r}) == sum(len(r) for r in rows)


@pytest.mark.parametrize(
    ("record_type", "generate"),
    [
        ("offer", generate_offers),
        ("mentoring", generate_mentoring),
        ("event", generate_events),
        ("help_request", generate_help_requests),
    ],
)
def test_generated_bodies_validate(members, record_type, generate):
    emails = {m["email"] for m in members}
    bodies = generate(members, random.Random(3), 150)
    assert len(bodies) == 150
    for body in bodies:
        assert body["author_email"] in emails
        clean = {k: v for k, v in body.items() if k != "author_email"}
        RECORD_TYPES[record_type].validate(clean)


def test_member_id_mapping_fills_author(members):
    ids = {m["email"]: f"p{i}" for i, m in enumerate(members)}
    offers = generate_offers(members, random.Random(5), 20, member_id=ids.__getitem__)
    assert all(o["author"] == ids[o["author_email"]] for o in offers)
    mentoring = generate_mentoring(members, random.Random(5), 5)
    assert all(m["member"] == placeholder_member_id(m["author_email"]) for m in mentoring)
    for o in offers:
        RECORD_TYPES["offer"].validate({k: v for k, v in o.items() if k != "author_email"})


def test_offer_titles_read_like_requests(members):
    offers = generate_offers(members, random.Random(11), 200)
    assert {o["purpose"] for o in offers} == {"offer", "request"}
    assert any(o["title"].startswith("Cherche ") for o in offers)
    assert all(o["status"] == "open" and o["trades"] for o in offers)
