"""The trade vocabulary: shipped file, bilingual search, expansion, and errors on bad operator files."""

from pathlib import Path

import pytest

from node.reference.vocabulary import COLUMNS, ROME_RE, VocabularyError, load_trades, normalise

HEADER = ",".join(COLUMNS) + "\n"


def test_normalise_strips_case_accents_and_hyphens():
    assert normalise("  Saint-Denis ") == "saint denis"
    assert normalise("MENUISIÈRE") == "menuisiere"
    assert normalise("L'Haÿ-les-Roses") == "l hay les roses"
    assert normalise("Manœuvre  BTP") == "manoeuvre btp"


def test_shipped_file_is_large_valid_and_cached():
    vocab = load_trades()
    assert vocab is load_trades()
    trades = vocab.all()
    assert len(trades) >= 150
    assert [t.rome for t in trades] == sorted({t.rome for t in trades})
    codes = {t.rome for t in trades}
    for t in trades:
        assert ROME_RE.match(t.rome) and t.label_fr and t.label_en
        assert set(t.related) <= codes


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("menuisier", "H2206"),
        ("Menuisière", "H2206"),
        ("menuisiere", "H2206"),
        ("menuis", "H2206"),
        ("carpenter", "H2206"),
        ("graphic designer", "E1205"),
        ("graphiste", "E1205"),
        ("motion designer", "E1205"),
        ("forma", "K2111"),
        ("formatrice", "K2111"),
        ("trainer", "K2111"),
        ("développeuse", "M1805"),
        ("software developer", "M1805"),
        ("berger", "A1410"),
        ("shepherd", "A1410"),
        ("journaliste", "E1106"),
        ("maraicher", "A1414"),
        ("market gardener", "A1414"),
        ("photographer", "E1201"),
        ("traductrice", "E1108"),
        ("translator", "E1108"),
        ("h2206", "H2206"),
    ],
)
def test_search_finds_the_trade_first(query, code):
    assert load_trades().search(query)[0].rome == code


def test_search_limits_and_empty_queries():
    vocab = load_trades()
    assert len(vocab.search("a", limit=3)) == 3
    assert vocab.search("") == []
    assert vocab.search("zzzzqqq") == []


def test_labels_and_lookup():
    vocab = load_trades()
    assert vocab.label("H2206", "fr") == "Menuisier"
    assert vocab.label("H2206", "en") == "Carpenter"
    assert vocab.label("E1205", "en-GB") == "Graphic designer"
    assert vocab.label("Z9999", "fr") == "Z9999"
    assert vocab.by_code(" h2206 ") is not None
    assert vocab.by_code("X0000") is None


def test_expand_gives_codes_and_related_ones_only_for_exact_words():
    vocab = load_trades()
    expanded = vocab.expand("menuisiers à Montreuil")
    assert "H2206" in expanded
    assert set(vocab.by_code("H2206").related) <= expanded  # type: ignore[union-attr]
    assert "E1205" in vocab.expand("graphic designer")
    assert vocab.expand("Montreuil") == set()
    assert "A1410" in vocab.expand("A1410")


def _write(tmp_path: Path, body: str, name: str = "extra.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_operator_file_overrides_and_adds(tmp_path):
    extra = _write(
        tmp_path,
        "H2206,Menuisier agenceur,Joiner,menuisière agenceuse,,F1604,\n"
        "N4199,Cyclo-logisticien,Cargo bike logistician,cyclologisticienne,,N4104,http://example.org/esco/1\n",
    )
    vocab = load_trades(extra)
    assert vocab.label("H2206", "fr") == "Menuisier agenceur"
    assert vocab.search("cyclo-logisticienne")[0].rome == "N4199"
    assert vocab.by_code("N4199").esco == "http://example.org/esco/1"  # type: ignore[union-attr]
    assert load_trades().label("H2206", "fr") == "Menuisier"  # the cached default is untouched


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("H220,Menuisier,Joiner,,,,\n", "bad ROME code"),
        ("Z1234,Menuisier,Joiner,,,,\n", "bad ROME code"),
        ("N4198,A,B,,,,\nN4198,C,D,,,,\n", "duplicate ROME code N4198"),
        ("N4198,A,,,,,\n", "needs both"),
        ("N4198,A,B,,,X1,\n", "bad related"),
        ("N4198,A,B,,,N4197,\n", "unknown code"),
        ("N4198,A,B,,,,not-a-uri\n", "esco"),
        ("N4198,A,B\n", "expected 7 columns"),
    ],
)
def test_bad_operator_files_name_file_and_line(tmp_path, body, message):
    extra = _write(tmp_path, body)
    with pytest.raises(VocabularyError) as info:
        load_trades(extra)
    text = str(info.value)
    assert message in text
    assert str(extra) in text
    assert f"{extra}:{body.count(chr(10)) + 1}" in text


def test_bad_header_and_missing_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,label\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"bad\.csv:1: header"):
        load_trades(bad)
    with pytest.raises(VocabularyError, match="cannot read"):
        load_trades(tmp_path / "missing.csv")
