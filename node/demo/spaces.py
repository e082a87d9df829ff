"""Point Carré's coworking and FabLab in Saint-Denis (the coop Coopaname co-founded): the spaces and machines
the demo's Coopaname publishes for members of the network to book.

Published through the real service (signed ``resource`` records that replicate to every coop), by Coopaname's
operator. Qualifications are not seeded: the place's staff give them (the guide for coordinators says how).
"""

from __future__ import annotations

from typing import Any, Final

from node.compose import Node
from node.viewer import Viewer

PLACE: Final = {"town": "Saint-Denis", "postcode": "93200"}
WEEKDAYS: Final = tuple(range(1, 6))


def _hours(opens: int, closes: int, days: tuple[int, ...] = WEEKDAYS) -> list[dict[str, int]]:
    return [{"day": d, "opens": opens * 60, "closes": closes * 60} for d in days]


def _prices(coop: int | None, network: int | None, public: int | None, unit: str) -> list[dict[str, Any]]:
    """Euro cents per unit for each audience; None: not offered to that audience, 0: free."""
    out: list[dict[str, Any]] = []
    for audience, amount in (("coop", coop), ("network", network), ("public", public)):
        if amount is None:
            out.append({"audience": audience, "access": "not_offered"})
        elif amount == 0:
            out.append({"audience": audience, "access": "free"})
        else:
            out.append({"audience": audience, "access": "paid", "amount_cents": amount, "unit": unit})
    return out


def point_carre_resources() -> list[dict[str, Any]]:
    """The resource bodies of Point Carré, as its staff would publish them."""
    common = {
        "venue": "Point Carré, coworking et FabLab",
        "run_by": "Scic Point Carré",
        "place": PLACE,
        "timezone": "Europe/Paris",
    }
    desks = [
        {
            **common,
            "kind": "space",
            "title": f"Poste de coworking {n}",
            "description": "Un bureau dans l'espace de coworking : wifi, écran, café coopératif.",
            "capacity": 1,
            "hours": _hours(9, 19),
            "slot_minutes": 30,
            "max_minutes": 10 * 60,
            "prices": _prices(0, 800, 1500, "half_day"),
            "status": "open",
        }
        for n in (1, 2, 3)
    ]
    return [
        *desks,
        {
            **common,
            "kind": "space",
            "title": "Salle de réunion La Plaine",
            "description": "Salle de 12 places avec écran et tableau blanc, au rez-de-chaussée, accessible.",
            "capacity": 12,
            "hours": _hours(8, 21),
            "slot_minutes": 30,
            "max_minutes": 8 * 60,
            "prices": _prices(0, 2000, 4000, "hour"),
            "photos": ["https://point-carre.example/photos/salle-la-plaine.jpg"],
            "approval": True,
            "status": "open",
        },
        {
            **common,
            "kind": "machine",
            "title": "Découpeuse laser 60 W",
            "description": "Découpe et gravure : bois, carton, acrylique jusqu'à 6 mm. Plateau 90 × 60 cm.",
            "capacity": 1,
            "hours": _hours(10, 18, (2, 3, 4, 5)),
            "slot_minutes": 30,
            "max_minutes": 4 * 60,
            "prices": _prices(1000, 1500, None, "hour"),
            "photos": ["https://point-carre.example/photos/laser.jpg"],
            "qualification": "laser-cutter",
            "qualification_label": "Formation découpe laser (2 h, le mardi)",
            "status": "open",
        },
        *(
            {
                **common,
                "kind": "machine",
                "title": f"Imprimante 3D {name}",
                "description": "Impression FDM, PLA et PETG, volume 25 × 21 × 21 cm.",
                "capacity": 1,
                "hours": _hours(10, 18, (2, 3, 4, 5)),
                "slot_minutes": 60,
                "max_minutes": 8 * 60,
                "prices": _prices(300, 500, None, "hour"),
                "qualification": "3d-printer",
                "qualification_label": "Prise en main des imprimantes 3D (1 h)",
                "status": "open",
            }
            for name in ("Prusa A", "Prusa B")
        ),
        {
            **common,
            "kind": "machine",
            "title": "Fraiseuse numérique (CNC)",
            "description": "Fraiseuse 3 axes pour le bois et les plastiques, 120 × 120 cm. Toujours à deux.",
            "capacity": 1,
            "hours": _hours(14, 18, (3, 5)),
            "slot_minutes": 60,
            "max_minutes": 4 * 60,
            "prices": _prices(1500, 2500, None, "hour"),
            "qualification": "cnc-router",
            "qualification_label": "Habilitation fraiseuse numérique (une demi-journée)",
            "approval": True,
            "status": "open",
        },
    ]


async def publish_point_carre(s: Node, staff: Viewer) -> int:
    """Publish Point Carré's spaces and machines on ``s`` (Coopaname) as ``staff``; how many were published."""
    for body in point_carre_resources():
        await s.bookings.publish(staff, body)
    return len(point_carre_resources())
