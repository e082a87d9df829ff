"""Who is asking, and what they may see.

Visibility levels, from narrowest to widest: ``private`` (the member only), ``coop`` (members and staff of the
same coop), ``network`` (member nodes of the network), ``public`` (anyone). A viewer reaches a level; a field
is shown when its level is at least as wide as the narrowest one the viewer reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Level = Literal["private", "coop", "network", "public"]
LEVELS: Final[tuple[Level, ...]] = ("private", "coop", "network", "public")
_RANK: Final[dict[str, int]] = {level: i for i, level in enumerate(LEVELS)}
ROLES: Final = ("member", "advisor", "operator")


def is_level(value: object) -> bool:
    return isinstance(value, str) and value in _RANK


def visible(field_level: str, viewer_level: str) -> bool:
    """Whether a field at ``field_level`` is shown to a viewer who reaches ``viewer_level``."""
    return _RANK[field_level] >= _RANK[viewer_level]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The authenticated account behind a request, or the anonymous viewer (``account_id`` None)."""

    account_id: int | None = None
    role: str | None = None
    member_id: str | None = None  # the record id of the viewer's profile
    email: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.account_id is None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def is_staff(self) -> bool:
        return self.role in ("operator", "advisor")

    def level_for(self, owner_account_id: int | None) -> Level:
        """The narrowest level this viewer reaches on data owned by ``owner_account_id`` (of this node)."""
        if self.account_id is None:
            return "public"
        if owner_account_id is not None and owner_account_id == self.account_id:
            return "private"
        return "coop"  # every account of this node belongs to this coop

    def audiences(self) -> tuple[str, ...]:
        """Search audiences this viewer may match against."""
        return ("public",) if self.anonymous else ("public", "network", "coop")

    def __repr__(self) -> str:  # keep e-mail addresses out of logs
        return f"Viewer(account_id={self.account_id!r}, role={self.role!r})"


ANONYMOUS: Final = Viewer()
