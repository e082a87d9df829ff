"""The pages' words, in French first and English second.

One table, keyed by a short id; a test checks every key has both languages and that every key a template uses
exists. The language comes from ``?lang=``, then the ``bigre_lang`` cookie, then ``Accept-Language``, then French.
"""

from __future__ import annotations

from typing import Final

LANGS: Final = ("fr", "en")

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "app.tagline": (
        "Le réseau des coopératives : trouver, s'entraider, coopérer",
        "The cooperatives' network: find, help, cooperate",
    ),
    "nav.search": ("Rechercher", "Search"),
    "nav.offers": ("Offres et demandes", "Offers and requests"),
    "nav.mentoring": ("Parrainage", "Mentoring"),
    "nav.events": ("Événements", "Events"),
    "nav.help": ("Entraide", "Help"),
    "nav.inbox": ("Messages", "Messages"),
    "nav.me": ("Mon profil", "My profile"),
    "nav.advisor": ("Accompagnement", "Accompaniment"),
    "nav.operator": ("Fédération", "Federation"),
    "nav.login": ("Se connecter", "Sign in"),
    "nav.logout": ("Se déconnecter", "Sign out"),
    "nav.language": ("English", "Français"),
    "login.title": ("Connexion", "Sign in"),
    "login.email": ("Adresse électronique", "Email address"),
    "login.password": ("Mot de passe", "Password"),
    "login.submit": ("Se connecter", "Sign in"),
    "login.failed": ("Adresse ou mot de passe incorrect.", "Wrong email or password."),
    "invite.title": ("Bienvenue : choisissez votre mot de passe", "Welcome: choose your password"),
    "invite.submit": ("Activer mon compte", "Activate my account"),
    "search.title": ("Trouver des coopérateurs et coopératrices", "Find cooperators"),
    "search.placeholder": (
        "métier, compétence, ville… (ex. menuisier Montreuil)",
        "trade, skill, town… (e.g. carpenter Montreuil)",
    ),
    "search.submit": ("Chercher", "Search"),
    "search.results": ("résultats", "results"),
    "search.none": (
        "Aucun résultat. Essayez un autre mot ou retirez un filtre.",
        "No results. Try another word or remove a filter.",
    ),
    "search.near": ("Près de", "Near"),
    "search.radius": ("Rayon (km)", "Radius (km)"),
    "facet.origin": ("Coopérative", "Cooperative"),
    "facet.trade": ("Métier", "Trade"),
    "facet.departement": ("Département", "Département"),
    "facet.kind": ("Type", "Type"),
    "facet.clear": ("Retirer les filtres", "Clear filters"),
    "kind.profile": ("Membre", "Member"),
    "kind.offer": ("Offre / demande", "Offer / request"),
    "kind.event": ("Événement", "Event"),
    "kind.mentoring": ("Parrainage", "Mentoring"),
    "kind.help_request": ("Demande d'aide", "Help request"),
    "profile.coop": ("Coopérative", "Cooperative"),
    "profile.contact": ("Écrire à ce membre", "Write to this member"),
    "profile.subject": ("Objet", "Subject"),
    "profile.message": ("Message", "Message"),
    "profile.send": ("Envoyer", "Send"),
    "profile.sent": (
        "Message envoyé : il part signé vers la coopérative du membre.",
        "Message sent: it goes, signed, to the member's cooperative.",
    ),
    "profile.hidden": ("Ce membre ne partage rien de plus avec vous.", "This member shares nothing more with you."),
    "me.title": ("Mon profil", "My profile"),
    "me.visibility": ("Qui voit ce champ ?", "Who sees this field?"),
    "me.save": ("Enregistrer", "Save"),
    "me.saved": ("Profil enregistré.", "Profile saved."),
    "me.export": ("Exporter mes données (JSON)", "Export my data (JSON)"),
    "me.erase": ("Effacer mon compte", "Erase my account"),
    "me.erase_confirm": (
        "Cette action efface votre compte ici et dans tout le réseau. Mot de passe :",
        "This erases your account here and across the network. Password:",
    ),
    "me.erased": ("Votre compte a été effacé.", "Your account has been erased."),
    "vis.private": ("Moi seul·e", "Only me"),
    "vis.coop": ("Ma coopérative", "My cooperative"),
    "vis.network": ("Le réseau", "The network"),
    "vis.public": ("Tout le monde", "Everyone"),
    "field.display_name": ("Nom affiché", "Display name"),
    "field.bio": ("Présentation", "About me"),
    "field.trades": ("Métiers (codes ROME)", "Trades (ROME codes)"),
    "field.skills": ("Compétences", "Skills"),
    "field.languages": ("Langues", "Languages"),
    "field.place": ("Ville", "Town"),
    "field.availability": ("Disponibilité", "Availability"),
    "field.stage": ("Étape du projet", "Project stage"),
    "field.coop_status": ("Statut dans la coopérative", "Status in the cooperative"),
    "field.links": ("Liens", "Links"),
    "field.contact_preference": ("Préférence de contact", "Contact preference"),
    "field.day_rate_eur": ("Tarif journalier (€)", "Day rate (€)"),
    "field.phone": ("Téléphone", "Phone"),
    "offers.title": ("Offres et demandes de collaboration", "Collaboration offers and requests"),
    "offers.new": ("Publier une offre ou une demande", "Publish an offer or a request"),
    "offers.purpose": ("Je…", "I…"),
    "offers.offer": ("propose", "offer"),
    "offers.request": ("cherche", "am looking for"),
    "offers.title_field": ("Titre", "Title"),
    "offers.note": ("Détails", "Details"),
    "offers.town": ("Ville", "Town"),
    "offers.publish": ("Publier", "Publish"),
    "offers.close": ("Clore", "Close"),
    "offers.answer": ("Répondre", "Answer"),
    "events.title": ("Formations, ateliers et groupes de travail", "Trainings, workshops and working groups"),
    "events.register": ("S'inscrire", "Register"),
    "events.registered": ("Inscription enregistrée.", "Registration recorded."),
    "events.seats": ("places", "seats"),
    "events.remote": (
        "Organisé par une autre coopérative : écrivez à l'organisateur.",
        "Organised by another cooperative: write to the organiser.",
    ),
    "mentoring.title": ("Parrainage entre membres", "Mentoring between members"),
    "mentoring.offer": ("Je propose de parrainer", "I offer mentoring"),
    "mentoring.request": ("Je cherche un parrain ou une marraine", "I am looking for a mentor"),
    "mentoring.topics": ("Sujets (séparés par des virgules)", "Topics (comma-separated)"),
    "help.title": ("Entraide", "Mutual help"),
    "help.ask": ("Poser une question", "Ask a question"),
    "help.topic": ("Sujet", "Topic"),
    "help.text": ("Votre question", "Your question"),
    "help.answer": ("Répondre", "Answer"),
    "inbox.title": ("Mes messages", "My messages"),
    "inbox.empty": ("Aucun message pour l'instant.", "No messages yet."),
    "inbox.from": ("De", "From"),
    "advisor.title": ("Groupes et personnes accompagnés", "Groups and people accompanied"),
    "advisor.starting": ("Membres en démarrage ou en CAPE", "Members starting out or under a CAPE contract"),
    "operator.title": ("Tableau de bord de la fédération", "Federation dashboard"),
    "operator.peers": ("Coopératives pairs", "Peer cooperatives"),
    "operator.keys": ("Clés du nœud", "Node keys"),
    "operator.activity": (
        "Activité de synchronisation (entrées reçues par heure, 24 h)",
        "Sync activity (entries received per hour, 24 h)",
    ),
    "operator.admissions": ("Admissions en attente", "Pending admissions"),
    "operator.no_admissions": ("Aucune candidature en attente.", "No pending application."),
    "operator.members": ("Gestion des membres", "Member management"),
    "operator.import": ("Importer des membres (CSV)", "Import members (CSV)"),
    "operator.import_submit": ("Importer", "Import"),
    "operator.import_report": ("Rapport d'import", "Import report"),
    "operator.forks": ("Divergences détectées", "Forks detected"),
    "operator.heads": ("Têtes de journal", "Log heads"),
    "peer.name": ("Pair", "Peer"),
    "peer.status": ("Statut", "Status"),
    "peer.last_success": ("Dernière synchro", "Last sync"),
    "peer.lag": ("Retard", "Lag"),
    "peer.queue": ("File d'envoi", "Outbox"),
    "peer.last_error": ("Dernière erreur", "Last error"),
    "common.none": ("—", "—"),
    "common.back": ("Retour", "Back"),
    "error.title": ("Oups", "Oops"),
    "error.forbidden": ("Cette page est réservée.", "This page is restricted."),
    "error.csrf": (
        "Le formulaire a expiré : rechargez la page et recommencez.",
        "The form expired: reload the page and try again.",
    ),
}


def translator(lang: str) -> dict[str, str]:
    index = LANGS.index(lang) if lang in LANGS else 0
    return {key: pair[index] for key, pair in MESSAGES.items()}


def choose_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    if accept:
        for part in accept.split(","):
            code = part.split(";", 1)[0].strip().lower()[:2]
            if code in LANGS:
                return code
    return "fr"
