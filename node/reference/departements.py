"""The départements of France by number and name, so that "menuisier Seine-Saint-Denis" or "Près de : 93"
searches a département rather than a town.

A member names a département by its number ("93", "2A") or its name, with or without accents, hyphens or
"Saint" spelled out; :func:`find_departement` reads either, and :func:`departement_in` finds a département's name
inside the words of a search ("menuisier seine saint denis" -> ``("93", "menuisier")``).
"""

from __future__ import annotations

import re
from typing import Final

from node.reference.vocabulary import normalise

DEPARTEMENTS: Final[dict[str, str]] = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes", "09": "Ariège", "10": "Aube", "11": "Aude",
    "12": "Aveyron", "13": "Bouches-du-Rhône", "14": "Calvados", "15": "Cantal", "16": "Charente",
    "17": "Charente-Maritime", "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne", "25": "Doubs", "26": "Drôme",
    "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère", "30": "Gard", "31": "Haute-Garonne", "32": "Gers",
    "33": "Gironde", "34": "Hérault", "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire",
    "38": "Isère", "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne", "48": "Lozère",
    "49": "Maine-et-Loire", "50": "Manche", "51": "Marne", "52": "Haute-Marne", "53": "Mayenne",
    "54": "Meurthe-et-Moselle", "55": "Meuse", "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord",
    "60": "Oise", "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône",
    "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe", "73": "Savoie", "74": "Haute-Savoie",
    "75": "Paris", "76": "Seine-Maritime", "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres",
    "80": "Somme", "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne", "90": "Territoire de Belfort",
    "91": "Essonne", "92": "Hauts-de-Seine", "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "976": "Mayotte",
}  # fmt: skip
#: names that are also a town's (Paris) or a common word (Nord, Manche, Marne...) are not read as a département
#: inside the words of a search; they are, typed alone in "Près de"
_AMBIGUOUS_IN_WORDS: Final = frozenset(
    {"75", "59", "50", "51", "46", "39", "83", "86", "18", "80", "10", "23", "36", "42"}
)
_NUMBER: Final = re.compile(r"(?:0?[1-9]|[1-8][0-9]|9[0-5]|2[ABab]|97[12346])\Z")


def _key(text: str) -> str:
    words = normalise(text).split()
    return " ".join({"st": "saint", "ste": "sainte"}.get(w, w) for w in words)


_BY_NAME: Final = {_key(name): code for code, name in DEPARTEMENTS.items()}
_LONGEST: Final = max(len(k.split()) for k in _BY_NAME)


def departement_name(code: object) -> str:
    """ "93" -> "Seine-Saint-Denis"; an unknown code is returned as it is."""
    return DEPARTEMENTS.get(str(code).upper(), str(code))


def find_departement(text: str) -> str | None:
    """The code of the département ``text`` names by number ("93", "2a", "5") or name ("seine st denis")."""
    text = text.strip()
    if _NUMBER.match(text):
        code = text.upper()
        return code.zfill(2) if code.isdigit() and len(code) == 1 else code
    return _BY_NAME.get(_key(text))


def departement_in(words: str) -> tuple[str, str] | None:
    """A département named inside a search's words, and the words without it: "menuisier Seine-Saint-Denis" ->
    ("93", "menuisier"). The longest name wins; a name that is also a common word or a city is left as a word."""
    tokens = _key(words).split()
    for size in range(min(_LONGEST, len(tokens)), 0, -1):
        for i in range(len(tokens) - size + 1):
            code = _BY_NAME.get(" ".join(tokens[i : i + size]))
            if code is not None and code not in _AMBIGUOUS_IN_WORDS:
                rest = " ".join(tokens[:i] + tokens[i + size :])
                return code, rest
    return None
