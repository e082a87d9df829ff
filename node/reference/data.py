"""Reference data the services check input against: the trade vocabulary (ROME codes) and the gazetteer.

Wraps :mod:`node.reference.vocabulary` and :mod:`node.reference.places` so that a trade code or a town
typed by a member turns into the network form the protocol carries, or into a field error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.errors import InvalidInput
from node.reference.places import Gazetteer, Place, load_places
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

    def place(self, value: object, field: str = "place") -> dict[str, Any]:
        """A town (never an address) from ``{"town": ..., "postcode": ...}`` or a string, else a field error."""
        town = postcode = None
        if isinstance(value, str):
            town = value
        elif isinstance(value, dict):
            town, postcode = value.get("town"), value.get("postcode")
        else:
            raise InvalidInput.field(field, "must be a town or postcode")
        town = town.strip() if isinstance(town, str) and town.strip() else None
        postcode = postcode.strip() if isinstance(postcode, str) and postcode.strip() else None
        by_town = self.places.find(town) if town else None
        by_postcode = self.places.find(postcode) if postcode else None
        found: Place | None
        if by_town is not None and (postcode is None or by_town.postcode == postcode or by_postcode is None):
            found = by_town
        else:
            found = by_postcode or by_town
        if found is None:
            raise InvalidInput.field(field, "unknown town or postcode")
        return {
            "town": found.town,
            "postcode": found.postcode,
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
