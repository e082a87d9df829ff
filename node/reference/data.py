"""Reference data the services check input against: the trade vocabulary (ROME codes) and the gazetteer.

Wraps :mod:`node.reference.vocabulary` and :mod:`node.reference.places` so that a trade code or a town
typed by a member turns into the network form the protocol carries, or into a field error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import InvalidInput
from node.reference.places import AmbiguousPlace, Gazetteer, Place, PlaceError, load_places
from node.reference.vocabulary import TradeVocabulary, load_trades


@dataclass(frozen=True, slots=True)
class Reference:
    trades: TradeVocabulary
    places: Gazetteer

    def trade(self, code: object, field: str = "trades") -> dict[str, Any]:
        """``{"rome", "label", "esco"?}`` for a ROME code (or a ``{"rome": ...}`` map), else a field error."""
        if isinstance(code, dict):
            code = code.get("rome")
        if not isinstance(code, str):
            raise InvalidInput.field(field, "trades are ROME codes such as H2206")
        trade = self.trades.by_code(code.strip().upper())
        if trade is None:
            raise InvalidInput.field(field, f"unknown ROME code {code[:10]!r}")
        result: dict[str, Any] = {"rome": trade.rome, "label": trade.label_fr}
        if trade.esco:
            result["esco"] = trade.esco
        return result

    def town(
        self, text: str, postcode: str | None = None, departement: str | None = None, *, field: str = "place"
    ) -> Place:
        """The gazetteer's place for what a member typed, else a field error saying why (for an ambiguous name
        or postcode, the message lists the towns it could mean)."""
        try:
            return self.places.resolve(text, postcode, departement)
        except PlaceError as exc:
            raise InvalidInput.field(field, exc.message) from None

    def centre(self, text: str, *, field: str = "near") -> Place:
        """The centre of a "near" search: as :meth:`town`, except that a postcode shared by several communes
        stands for the most populous of them (they are neighbours, served by one post office), where a
        profile must say which; a name borne by towns across France is still refused with the choices."""
        try:
            return self.places.resolve(text)
        except AmbiguousPlace as exc:
            if text.strip().isdigit():
                return exc.choices[0]
            raise InvalidInput.field(field, exc.message) from None
        except PlaceError as exc:
            raise InvalidInput.field(field, exc.message) from None

    def place(self, value: object, field: str = "place") -> dict[str, Any]:
        """A town (never an address) from a string ("Briançon", "05100", "Briançon 05100", "Saint-Denis (93)")
        or ``{"town": ..., "postcode": ...}``, else a field error that says why, listing the towns an
        ambiguous name or postcode could mean. A town without a postcode is given without one."""
        parts: list[object] = [value, None, None]
        if isinstance(value, dict):  # also a place map of a record: its département tells homonyms apart
            parts = [value.get(k) for k in ("town", "postcode", "departement")]
        if not all(part is None or isinstance(part, str) for part in parts):
            raise InvalidInput.field(field, "must be a town or postcode (text)")
        town, postcode, departement = (part if isinstance(part, str) and part.strip() else None for part in parts)
        found = self.town(town or "", postcode, departement, field=field)
        return {
            "town": found.town,
            **({"postcode": found.postcode} if found.postcode else {}),
            "departement": found.departement,
            "region": found.region,
            "country": "FR",
            "lat_e6": found.lat_e6,
            "lon_e6": found.lon_e6,
        }


def load_reference(trades_file: Path | None = None) -> Reference:
    """The bundled vocabulary (merged with the operator's ``trades_file``, rows override by code) and gazetteer;
    the bundled ones are loaded once per process."""
    return Reference(load_trades(trades_file), load_places())
