"""Realistic, deterministic demo data for the three-coop network demo (coopaname, smart, oxalis).

Why generated rather than fixtures: the demo needs hundreds of members per coop whose trades, skills, towns
and bios hang together (a shepherd in Seine-et-Marne, graphic designers in Montreuil), and every run with
the same seed must give the same people so that screenshots, tests and benchmarks compare. Every function
takes a ``random.Random`` and uses nothing else that varies.

Members come as rows of the member import CSV; offers, mentoring, events and help requests come as record
bodies (keys in canonical order) that validate against ``protocol.RECORD_TYPES``, plus an ``author_email``
key the caller maps to a profile id and removes before signing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from node.reference.places import Place, load_places
from node.reference.vocabulary import Trade, load_trades, normalise
from node.services.members_csv import COLUMNS

MEMBER_COLUMNS: Final = COLUMNS  # the member import format: one declaration, in node.services.members_csv
COOPS: Final = ("coopaname", "smart", "oxalis")
YEAR: Final = 2027

# ROME code -> (weight, skills). Weights follow what CAEs report: many trainers, designers and developers.
TRADE_MIX: Final[dict[str, tuple[int, tuple[str, ...]]]] = {
    "K2111": (
        14,
        (
            "animation de formation",
            "ingénierie pédagogique",
            "formation d'adultes",
            "Qualiopi",
            "classe virtuelle",
            "facilitation",
            "éducation populaire",
            "gestion de groupe",
        ),
    ),
    "E1205": (
        12,
        (
            "identité visuelle",
            "mise en page",
            "illustration",
            "motion design",
            "After Effects",
            "Illustrator",
            "InDesign",
            "Figma",
            "édition",
            "signalétique",
            "affiches",
        ),
    ),
    "M1805": (
        10,
        (
            "Python",
            "Django",
            "JavaScript",
            "TypeScript",
            "React",
            "PostgreSQL",
            "PHP",
            "logiciel libre",
            "accessibilité web",
            "API REST",
            "tests automatisés",
            "Vue.js",
        ),
    ),
    "M1402": (
        6,
        (
            "gouvernance partagée",
            "accompagnement au changement",
            "sociocratie",
            "stratégie",
            "diagnostic organisationnel",
            "animation de séminaires",
            "ESS",
        ),
    ),
    "H2206": (
        6,
        (
            "menuiserie bois massif",
            "agencement",
            "escaliers",
            "fenêtres",
            "restauration de meubles",
            "usinage numérique",
            "bois local",
            "finitions naturelles",
        ),
    ),
    "E1201": (
        6,
        (
            "portrait",
            "reportage",
            "photo culinaire",
            "photo d'architecture",
            "retouche",
            "Lightroom",
            "mariage",
            "photo corporate",
            "tirage argentique",
        ),
    ),
    "E1108": (
        6,
        (
            "traduction anglais-français",
            "traduction espagnol-français",
            "interprétariat",
            "sous-titrage",
            "localisation de logiciels",
            "traduction juridique",
            "traduction littéraire",
        ),
    ),
    "E1106": (
        5,
        (
            "enquête",
            "reportage",
            "podcast",
            "pige",
            "journalisme de solutions",
            "vérification des faits",
            "écriture web",
            "interview",
        ),
    ),
    "E1103": (
        4,
        (
            "relations presse",
            "plan de communication",
            "réseaux sociaux",
            "rédaction",
            "communication associative",
            "newsletter",
        ),
    ),
    "K1103": (4, ("sophrologie", "gestion du stress", "méditation", "relaxation", "ateliers bien-être")),
    "L1304": (4, ("documentaire", "vidéo institutionnelle", "captation", "écriture de scénario", "tournage")),
    "E1104": (3, ("UX design", "recherche utilisateur", "prototypage", "Figma", "design system", "accessibilité")),
    "L1507": (3, ("montage vidéo", "Premiere Pro", "DaVinci Resolve", "étalonnage", "sous-titrage")),
    "E1102": (3, ("rédaction", "biographie", "écriture de scénario", "copywriting", "ateliers d'écriture")),
    "M1705": (3, ("marketing digital", "SEO", "stratégie de contenu", "emailing", "analyse d'audience")),
    "K1802": (2, ("développement local", "montage de projets", "tiers-lieux", "ESS", "animation de réseaux")),
    "K2302": (2, ("bilan carbone", "RSE", "économie circulaire", "transition écologique")),
    "A1414": (2, ("maraîchage bio", "permaculture", "vente directe", "AMAP", "semences paysannes")),
    "A1203": (2, ("entretien de jardins", "taille", "création de jardins", "potagers partagés")),
    "F1703": (2, ("maçonnerie", "bâti ancien", "enduits à la chaux", "terre crue", "pierre sèche")),
    "F1606": (2, ("peinture intérieure", "enduits", "papier peint", "peintures écologiques")),
    "I1203": (2, ("petits travaux", "plomberie légère", "électricité", "montage de meubles", "dépannage")),
    "B1803": (2, ("couture", "retouches", "patronage", "upcycling textile", "costumes")),
    "G1602": (2, ("cuisine végétarienne", "traiteur événementiel", "cuisine du monde", "ateliers cuisine")),
    "L1202": (2, ("guitare", "chant", "composition", "MAO", "cours de musique", "concerts")),
    "L1203": (2, ("théâtre", "improvisation", "théâtre forum", "lecture publique", "voix off")),
    "K2105": (2, ("arts plastiques", "ateliers enfants", "musique", "danse", "théâtre")),
    "K2107": (2, ("soutien scolaire", "mathématiques", "français langue étrangère", "cours d'anglais")),
    "M1203": (2, ("comptabilité", "paie", "gestion associative", "budget prévisionnel", "Dolibarr")),
    "F1101": (2, ("architecture bioclimatique", "réhabilitation", "permis de construire", "habitat participatif")),
    "E1107": (2, ("organisation d'événements", "logistique", "séminaires", "festivals")),
    "M1802": (2, ("cybersécurité", "RGPD", "architecture logicielle", "audit", "auto-hébergement")),
    "F1102": (1, ("architecture d'intérieur", "aménagement", "home staging", "réemploi de matériaux")),
    "A1410": (1, ("pastoralisme", "éco-pâturage", "tonte", "soins aux brebis", "transhumance")),
    "I1607": (1, ("réparation de vélos", "vélo-cargo", "atelier d'autoréparation")),
    "N4104": (1, ("livraison à vélo", "cyclologistique", "vélo-cargo")),
    "K1302": (1, ("aide à domicile", "accompagnement des personnes âgées", "courses")),
    "D1208": (1, ("socio-esthétique", "soins du visage", "maquillage")),
    "L1508": (1, ("prise de son", "mixage", "sonorisation", "podcast")),
    "K2304": (1, ("réemploi", "upcycling", "réparation", "ressourcerie")),
    "B1603": (1, ("bijoux", "joaillerie", "argent recyclé", "sertissage")),
    "H2207": (1, ("ébénisterie", "marqueterie", "restauration de meubles")),
    "B1201": (1, ("céramique", "tournage", "émaillage", "cuisson raku")),
    "D1102": (1, ("pain au levain", "viennoiserie", "farines anciennes")),
    "F1501": (1, ("charpente traditionnelle", "ossature bois", "taille de charpente")),
}

# Feminine job titles for the trades of TRADE_MIX whose label is masculine (the others are epicene).
FEMININE: Final = {
    "K2111": "Formatrice",
    "M1805": "Développeuse",
    "M1402": "Consultante en organisation",
    "H2206": "Menuisière",
    "E1108": "Traductrice",
    "E1103": "Chargée de communication",
    "L1304": "Réalisatrice",
    "E1104": "Conceptrice multimédia",
    "L1507": "Monteuse vidéo",
    "E1102": "Écrivaine",
    "M1705": "Chargée de marketing",
    "K1802": "Chargée de développement local",
    "K2302": "Chargée de mission environnement",
    "A1414": "Maraîchère",
    "A1203": "Jardinière paysagiste",
    "F1703": "Maçonne",
    "I1203": "Agente d'entretien du bâtiment",
    "B1803": "Couturière",
    "G1602": "Cuisinière",
    "L1202": "Musicienne",
    "L1203": "Comédienne",
    "K2105": "Professeure d'art",
    "K2107": "Professeure du second degré",
    "E1107": "Organisatrice d'événements",
    "M1802": "Experte en systèmes d'information",
    "A1410": "Bergère",
    "I1607": "Réparatrice de vélos",
    "N4104": "Coursière",
    "L1508": "Ingénieure du son",
    "B1603": "Bijoutière",
    "D1102": "Boulangère",
    "F1501": "Charpentière",
    "K1302": "Auxiliaire de vie",
}
MASCULINE: Final = {"D1208": "Esthéticien"}

FIRST_NAMES: Final = (
    # (first name, feminine?)
    ("Camille", True),
    ("Léa", True),
    ("Manon", True),
    ("Chloé", True),
    ("Inès", True),
    ("Sarah", True),
    ("Julie", True),
    ("Claire", True),
    ("Anne", True),
    ("Sophie", True),
    ("Élodie", True),
    ("Mathilde", True),
    ("Fatou", True),
    ("Aminata", True),
    ("Awa", True),
    ("Yasmine", True),
    ("Nadia", True),
    ("Samira", True),
    ("Leïla", True),
    ("Fatima", True),
    ("Amina", True),
    ("Salomé", True),
    ("Ana", True),
    ("Mariana", True),
    ("Joana", True),
    ("Lucía", True),
    ("Giulia", True),
    ("Linh", True),
    ("Mei", True),
    ("Thi Hoa", True),
    ("Olga", True),
    ("Katarzyna", True),
    ("Aïcha", True),
    ("Rokhaya", True),
    ("Nour", True),
    ("Maëlle", True),
    ("Gwenaëlle", True),
    ("Hélène", True),
    ("Marion", True),
    ("Agnès", True),
    ("Zoé", True),
    ("Jeanne", True),
    ("Lucas", False),
    ("Hugo", False),
    ("Thomas", False),
    ("Nicolas", False),
    ("Julien", False),
    ("Antoine", False),
    ("Maxime", False),
    ("Pierre", False),
    ("Olivier", False),
    ("Benoît", False),
    ("Mamadou", False),
    ("Moussa", False),
    ("Ibrahima", False),
    ("Karim", False),
    ("Mehdi", False),
    ("Youssef", False),
    ("Rachid", False),
    ("Samir", False),
    ("Bilal", False),
    ("João", False),
    ("Pedro", False),
    ("Diego", False),
    ("Marco", False),
    ("Minh", False),
    ("Wei", False),
    ("Tomasz", False),
    ("Dmitri", False),
    ("Kofi", False),
    ("Cheikh", False),
    ("Yann", False),
    ("Loïc", False),
    ("Gaël", False),
    ("Jérôme", False),
    ("Stéphane", False),
    ("Rémi", False),
    ("Théo", False),
    ("Malik", False),
    ("Sébastien", False),
    ("Arnaud", False),
    ("Ousmane", False),
)
LAST_NAMES: Final = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Le Gall",
    "Le Bihan",
    "Kerjean",
    "Diallo",
    "Traoré",
    "Diop",
    "Ndiaye",
    "Koné",
    "Cissé",
    "Camara",
    "Keïta",
    "Sow",
    "Mbappé",
    "Benali",
    "Haddad",
    "Bensaïd",
    "Cherif",
    "Mansouri",
    "Belkacem",
    "Amrani",
    "Boukhari",
    "Ferreira",
    "Da Silva",
    "Pereira",
    "Rodrigues",
    "Santos",
    "Fernández",
    "López",
    "Sánchez",
    "Rossi",
    "Bianchi",
    "Esposito",
    "Nguyen",
    "Tran",
    "Pham",
    "Le",
    "Chen",
    "Wang",
    "Zhang",
    "Kowalski",
    "Nowak",
    "Ivanova",
    "Petrov",
    "Yilmaz",
    "Demir",
    "Mensah",
    "Okafor",
    "Abitbol",
    "Cohen",
    "Lévy",
    "Lemaire",
    "Marchand",
    "Gauthier",
    "Chevalier",
    "Fontaine",
    "Baptiste",
    "Jean-Louis",
    "Saint-Cyr",
)
EXTRA_LANGUAGES: Final = (("en", 0.45), ("es", 0.12), ("ar", 0.1), ("de", 0.06), ("pt", 0.06), ("it", 0.05))
STAGES: Final = ("starting", "intermittent", "established")
STATUS_BY_STAGE: Final = {
    "starting": (("cape", 6), ("salaried_entrepreneur", 3), ("associate", 1)),
    "intermittent": (("cape", 2), ("salaried_entrepreneur", 5), ("associate", 3)),
    "established": (("cape", 1), ("salaried_entrepreneur", 4), ("associate", 6)),
}
COOP_NAMES: Final = {"coopaname": "Coopaname", "smart": "SMart", "oxalis": "Oxalis"}


T = TypeVar("T")


def _slug(text: str) -> str:
    """ "Le Gall" -> "le-gall", "Léa" -> "lea": the local part of a demo email."""
    return "-".join(normalise(text).split())


def _weighted(rng: random.Random, items: Sequence[tuple[T, int]]) -> T:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items], k=1)[0]


def _idf_towns() -> list[tuple[Place, int]]:
    """Île-de-France communes with a postcode, weighted by population (Paris by arrondissement)."""
    gazetteer = load_places()
    towns = []
    for place in gazetteer.all():
        if place.region == "Île-de-France" and place.postcode:
            population = gazetteer.population(place)
            if population < 1_000_000:  # the whole-of-Paris row; its arrondissements stand for it
                towns.append((place, population))
    return towns


def _trade(code: str) -> Trade:
    trade = load_trades().by_code(code)
    if trade is None:  # TRADE_MIX and trades.csv are shipped together; a test keeps them in step
        raise KeyError(f"seed trade {code} is not in the vocabulary")
    return trade


def _title(trade: Trade, feminine: bool) -> str:
    return (FEMININE if feminine else MASCULINE).get(trade.rome, trade.label_fr)


def _bio(rng: random.Random, trades: list[Trade], skills: list[str], town: str, stage: str, feminine: bool) -> str:
    title = _title(trades[0], feminine)
    main = title.lower()
    placed = "installée" if feminine else "installé"
    based = "basée" if feminine else "basé"
    years = {"starting": rng.randint(1, 3), "intermittent": rng.randint(3, 10), "established": rng.randint(8, 25)}
    opening = rng.choice(
        (
            f"{title} {placed} à {town}, {years[stage]} ans de métier.",
            f"Je suis {main} à {town} depuis {years[stage]} ans.",
            f"{title} en coopérative, {based} à {town}.",
        )
    )
    middle = f" J'aime particulièrement {skills[0]}" + (f" et {skills[1]}." if len(skills) > 1 else ".")
    if len(trades) > 1:
        middle += f" J'exerce aussi comme {_title(trades[1], feminine).lower()}."
    closing = rng.choice(
        (
            " Ouverte aux collaborations entre coopératives." if feminine else " Ouvert aux collaborations.",
            " Je cherche des projets collectifs et des binômes.",
            " Disponible pour des missions en Île-de-France et à distance.",
            " Partante pour du mentorat." if feminine else " Partant pour du mentorat.",
            "",
        )
    )
    return opening + middle + closing


def _availability(rng: random.Random) -> tuple[str, str, str]:
    start = dt.date(YEAR, 1, 4) + dt.timedelta(days=rng.randrange(0, 270))
    end = min(start + dt.timedelta(days=rng.randrange(30, 200)), dt.date(YEAR, 12, 31))
    return start.isoformat(), end.isoformat(), str(_weighted(rng, ((1, 1), (2, 3), (3, 4), (4, 2), (5, 2))))


def generate_members(coop: str, count: int, rng: random.Random) -> list[dict[str, str]]:
    """Rows of the member import CSV (:data:`MEMBER_COLUMNS`): one ``operator`` and one ``advisor`` row first,
    then ``count`` members (so ``count + 2`` rows). Emails are unique within the coop."""
    towns = _idf_towns()
    mix = [(code, weight) for code, (weight, _) in TRADE_MIX.items()]
    used: set[str] = set()
    rows: list[dict[str, str]] = []

    def person() -> tuple[str, str, bool]:
        first, feminine = rng.choice(FIRST_NAMES)
        return first, rng.choice(LAST_NAMES), feminine

    def email_for(first: str, last: str) -> str:
        base = f"{_slug(first)}.{_slug(last)}"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}{n}"
        used.add(candidate)
        return f"{candidate}@{coop}.example"

    name = COOP_NAMES.get(coop, coop.capitalize())
    coop_town = load_places().find("Aubervilliers") if coop == "coopaname" else load_places().find("Paris")
    for local, role, code, bio in (
        ("operateur", "operator", "M1605", f"Équipe d'appui de {name} : comptes, adhésions et outils numériques."),
        ("conseil", "advisor", "K1801", f"Accompagnement des entrepreneur·es de {name}, de la CAPE au sociétariat."),
    ):
        first, last, _ = person()
        used.add(local)
        rows.append(
            {
                "email": f"{local}@{coop}.example",
                "display_name": f"{first} {last}",
                "trades": code,
                "skills": "accompagnement;gestion coopérative"
                if role == "advisor"
                else "administration;outils numériques",
                "languages": "fr",
                "town": coop_town.town if coop_town else "Paris",
                "postcode": coop_town.postcode if coop_town else "75001",
                "stage": "established",
                "coop_status": "associate",
                "bio": bio,
                "available_from": f"{YEAR}-01-04",
                "available_until": f"{YEAR}-12-17",
                "days_per_week": "5",
                "role": role,
            }
        )
    for _ in range(count):
        first, last, feminine = person()
        codes = [_weighted(rng, mix)]
        if rng.random() < 0.25:
            related = [c for c in _trade(codes[0]).related if c in TRADE_MIX and c != codes[0]]
            second = rng.choice(related) if related and rng.random() < 0.7 else _weighted(rng, mix)
            if second != codes[0]:
                codes.append(second)
        trades = [_trade(c) for c in codes]
        skills: list[str] = []
        for c in codes:
            pool = list(TRADE_MIX[c][1])
            skills += [s for s in rng.sample(pool, k=min(len(pool), rng.randint(2, 4))) if s not in skills]
        languages = ["fr"] + [lang for lang, p in EXTRA_LANGUAGES if rng.random() < p]
        place = (
            _weighted(rng, towns) if codes[0] != "A1410" else rng.choice([p for p, _ in towns if p.departement == "77"])
        )
        stage = _weighted(rng, (("starting", 3), ("intermittent", 3), ("established", 4)))
        available_from, available_until, days = _availability(rng)
        rows.append(
            {
                "email": email_for(first, last),
                "display_name": f"{first} {last}",
                "trades": ";".join(codes),
                "skills": ";".join(skills),
                "languages": ";".join(languages),
                "town": place.town,
                "postcode": place.postcode,
                "stage": stage,
                "coop_status": _weighted(rng, STATUS_BY_STAGE[stage]),
                "bio": _bio(rng, trades, skills, place.town, stage, feminine),
                "available_from": available_from,
                "available_until": available_until,
                "days_per_week": days,
                "role": "member",
            }
        )
    return rows


# ------------------------------------------------------------------------------------------ record bodies


def placeholder_member_id(email: str) -> str:
    """A stable record id standing for a member until the caller maps ``author_email`` to the real one."""
    return "m-" + hashlib.sha256(email.encode()).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    """Maps with keys in canonical order (UTF-8 byte order; our keys are ASCII), as record bodies need."""
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value, key=lambda k: k.encode())}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _members_only(members: list[dict[str, str]]) -> list[dict[str, str]]:
    people = [m for m in members if m["role"] == "member"]
    if not people:
        raise ValueError("no member rows to draw authors from")
    return people


def _trade_refs(member: dict[str, str]) -> list[dict[str, str]]:
    refs = []
    for code in member["trades"].split(";"):
        trade = load_trades().by_code(code)
        ref = {"rome": code, "label": trade.label_fr if trade else code}
        if trade and trade.esco:
            ref["esco"] = trade.esco
        refs.append(ref)
    return refs


def _place_of(member: dict[str, str]) -> dict[str, str | int]:
    place = load_places().find(member["town"], member["postcode"] or None)  # postcodes are often shared
    return place.as_record() if place else {"town": member["town"]}


def _date(rng: random.Random, first: int = 0, last: int = 330) -> dt.date:
    return dt.date(YEAR, 1, 11) + dt.timedelta(days=rng.randrange(first, last))


def _ms(day: dt.date, hour: int, minute: int = 0) -> int:
    """Milliseconds since the epoch for a Paris wall-clock time (UTC+2 from April to October, else UTC+1:
    close enough for demo data, and free of the host's time-zone database)."""
    offset = 2 if 4 <= day.month <= 10 else 1
    moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC) - dt.timedelta(hours=offset)
    return int(moment.timestamp()) * 1000


REQUEST_TITLES: Final = (
    "Cherche {label} pour {n} {unit} à {town}",
    "Besoin d'un·e {label} pour un projet à {town}",
    "Recherche {label} en binôme, {n} {unit}",
    "Qui connaît un·e {label} près de {town} ?",
)
OFFER_TITLES: Final = (
    "{Label} disponible {days} jours par semaine à partir de {month}",
    "Propose mes services de {label} aux coopératives du réseau",
    "{Label} à {town} : {skill}",
    "Échange : {skill} contre un coup de main",
)
PROJECTS: Final = (
    "un festival de quartier",
    "le site d'une association",
    "un tiers-lieu en construction",
    "une formation inter-coopératives",
    "un documentaire sur l'économie solidaire",
    "la rénovation d'un local associatif",
    "une AMAP qui s'agrandit",
    "le lancement d'une Scic",
)
MONTHS: Final = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def generate_offers(
    members: list[dict[str, str]], rng: random.Random, count: int, member_id: Any = None
) -> list[dict[str, Any]]:
    """OFFER bodies (offers and requests) by random members; ``member_id(email)``, when given, fills
    ``author``. Requests name a trade (often another member's), offers the author's own."""
    people = _members_only(members)
    out = []
    for _ in range(count):
        author = rng.choice(people)
        purpose = "request" if rng.random() < 0.55 else "offer"
        subject = rng.choice(people) if purpose == "request" else author
        refs = _trade_refs(subject)[:1] if purpose == "request" else _trade_refs(author)
        label = refs[0]["label"].lower()
        skills = subject["skills"].split(";")
        start = _date(rng)
        n, unit = rng.choice(((2, "jours"), (5, "jours"), (2, "semaines"), (3, "semaines"), (2, "mois")))
        effort = n * {"jours": 1, "semaines": 5, "mois": 20}[unit]
        fields = {
            "label": label,
            "Label": label[:1].upper() + label[1:],
            "n": n,
            "unit": unit,
            "town": author["town"],
            "days": author["days_per_week"],
            "month": MONTHS[start.month - 1],
            "skill": skills[0],
        }
        title = rng.choice(REQUEST_TITLES if purpose == "request" else OFFER_TITLES).format(**fields)
        project = rng.choice(PROJECTS)
        note = (
            f"Pour {project}. Compétences utiles : {', '.join(skills[:3])}. Réponse par la messagerie du réseau."
            if purpose == "request"
            else f"Déjà travaillé pour {project}. {author['bio']}"
        )
        reciprocity = _weighted(rng, (("paid", 6), ("exchange", 2), ("time", 1), ("free", 1)))
        body: dict[str, Any] = {
            "purpose": purpose,
            "title": title[:140],
            "note": note[:4000],
            "trades": refs,
            "skills": skills[:5],
            "place": _place_of(author),
            "remote": rng.random() < 0.3,
            "from": start.isoformat(),
            "until": (start + dt.timedelta(days=effort * 2 + rng.randrange(0, 30))).isoformat(),
            "effort_days": effort,
            "reciprocity": reciprocity,
            "status": "open",
            "author_email": author["email"],
        }
        if member_id is not None:
            body["author"] = member_id(author["email"])
        out.append(_canonical(body))
    return out


MENTORING_TOPICS: Final = (
    "fixer son prix de journée",
    "trouver ses premiers clients",
    "passer de la CAPE au CESA",
    "devenir associé·e",
    "faire un devis",
    "construire son portfolio",
    "répondre à un appel d'offres",
    "gérer son temps entre plusieurs activités",
    "se former et financer sa formation",
    "travailler en binôme entre coopératives",
    "prendre la parole en public",
    "organiser sa prospection",
)


def generate_mentoring(
    members: list[dict[str, str]], rng: random.Random, count: int, member_id: Any = placeholder_member_id
) -> list[dict[str, Any]]:
    """MENTORING bodies: established members offering, starting ones asking. ``member`` (required by the
    schema) is ``member_id(author_email)``, a placeholder id unless the caller passes its own mapping."""
    people = _members_only(members)
    seniors = [m for m in people if m["stage"] == "established"] or people
    juniors = [m for m in people if m["stage"] == "starting"] or people
    out = []
    for _ in range(count):
        kind = "offer" if rng.random() < 0.5 else "request"
        who = rng.choice(seniors if kind == "offer" else juniors)
        topics = rng.sample(MENTORING_TOPICS, k=rng.randint(1, 3))
        body = {
            "kind": kind,
            "member": member_id(who["email"]),
            "topics": topics,
            "trades": _trade_refs(who),
            "languages": who["languages"].split(";"),
            "cadence": rng.choice(("une heure toutes les deux semaines", "un déjeuner par mois", "à la demande")),
            "programme": rng.choice(("parrainage", "binômes inter-coopératives", "accueil des nouveaux")),
            "note": (
                f"{'Je propose' if kind == 'offer' else 'Je cherche'} un accompagnement sur : {', '.join(topics)}."
            ),
            "status": "open",
            "author_email": who["email"],
        }
        out.append(_canonical(body))
    return out


EVENT_TEMPLATES: Final = (
    ("training", "Formation : {skill}", "Une journée pour se former à {skill}, animée par {who}."),
    ("workshop", "Atelier {label} : partage de pratiques", "Atelier entre pairs autour du métier de {label}."),
    ("working_group", "Groupe de travail {label}", "Groupe de travail inter-coopératives des {label}s."),
    ("meeting", "Réunion d'accueil des nouveaux membres", "Présentation de la coopérative, de la CAPE au sociétariat."),
    ("workshop", "Atelier : fixer son prix de journée", "Calculer son tarif, ses charges et son temps non facturé."),
    ("other", "Apéro inter-coopératives à {town}", "Se rencontrer entre membres de Coopaname, SMart et Oxalis."),
)


def generate_events(
    members: list[dict[str, str]], rng: random.Random, count: int, member_id: Any = None
) -> list[dict[str, Any]]:
    """EVENT bodies: trainings, workshops, working groups and meetings in 2027, in a member's town or online.
    ``member_id`` is accepted for symmetry; events carry the organiser's name, not an id."""
    del member_id
    people = _members_only(members)
    out = []
    for _ in range(count):
        who = rng.choice(people)
        kind, title, description = rng.choice(EVENT_TEMPLATES)
        label = _trade_refs(who)[0]["label"].lower()
        fields = {"skill": who["skills"].split(";")[0], "who": who["display_name"], "label": label, "town": who["town"]}
        day = _date(rng)
        hour = rng.choice((9, 14)) if kind == "training" else rng.choice((9, 10, 14, 18))
        online = rng.random() < 0.3
        body: dict[str, Any] = {
            "kind": kind,
            "title": title.format(**fields)[:140],
            "description": description.format(**fields),
            "start": _ms(day, hour, 30 if hour == 9 else 0),
            "end": _ms(day, hour + (4 if kind == "training" else 2)),
            "online": online,
            "seats": rng.choice((8, 12, 15, 20, 30)),
            "registration": "approval" if kind == "training" else "open",
            "organiser": who["display_name"],
            "languages": ["fr"],
            "status": "scheduled",
            "author_email": who["email"],
        }
        if online:
            body["url"] = f"https://visio.{who['email'].rsplit('@', 1)[1]}/{kind.replace('_', '-')}-{day.isoformat()}"
        else:
            body["place"] = _place_of(who)
        out.append(_canonical(body))
    return out


HELP_TOPICS: Final = (
    ("Modèle de devis pour une formation ?", "Quelqu'un aurait un modèle de devis et de convention de formation ?"),
    ("Prêt de matériel à {town}", "J'aurais besoin d'emprunter du matériel pour un chantier de deux jours."),
    ("Relecture d'un dossier de subvention", "Je dépose un dossier la semaine prochaine : un regard extérieur ?"),
    ("Assurance pour une activité de {label}", "Quelle assurance avez-vous prise ? La coopérative couvre-t-elle ?"),
    ("Traduction urgente d'une plaquette", "Une plaquette de deux pages à traduire en anglais, rémunérée."),
    ("Client qui ne paie pas", "Une facture de plus de 60 jours : comment avez-vous fait relancer ?"),
    ("Premier salon professionnel", "Je tiens un stand pour la première fois : vos conseils ?"),
    ("Outil de facturation libre", "Quel logiciel libre utilisez-vous pour les devis et factures ?"),
)


def generate_help_requests(
    members: list[dict[str, str]], rng: random.Random, count: int, member_id: Any = None
) -> list[dict[str, Any]]:
    """HELP_REQUEST bodies with a topic, a short text, an urgency and a date needed by."""
    people = _members_only(members)
    out = []
    for _ in range(count):
        who = rng.choice(people)
        topic, text = rng.choice(HELP_TOPICS)
        refs = _trade_refs(who)
        fields = {"town": who["town"], "label": refs[0]["label"].lower()}
        body: dict[str, Any] = {
            "topic": topic.format(**fields)[:140],
            "text": text.format(**fields),
            "urgency": _weighted(rng, (("low", 2), ("normal", 5), ("high", 2))),
            "needed_by": _date(rng).isoformat(),
            "trades": refs[:1],
            "status": "open",
            "author_email": who["email"],
        }
        if member_id is not None:
            body["author"] = member_id(who["email"])
        out.append(_canonical(body))
    return out
