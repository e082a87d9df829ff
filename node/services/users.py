"""The operator's tools over accounts: find them among thousands, change a role, disable or enable, hand out a
one-time link to set a new password, erase.

The same operations serve ``bigre users`` (as :data:`CONSOLE`, the operator at the node's console) and the
operator's accounts page. Disabling ends every session and API token of the account at once (and sign-in,
by password or through the coop's identity provider, refuses it). A reset link is a one-time invitation of an
already activated account, valid one day; the password in place works until the link is used.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import delete, func, or_, select

from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotFound
from node.services.accounts import Accounts, account_json, normalise_email
from node.services.directory import Directory
from node.storage.database import Database
from node.storage.models import Account, Invitation, MemberProfile
from node.viewer import ROLES, Viewer

log = logging.getLogger(__name__)

#: the operator at the node's console (``bigre users``): an operator that is no account of the node
CONSOLE: Final = Viewer(account_id=0, role="operator")
PER_PAGE: Final = 50
MAX_PER_PAGE: Final = 500
RESET_TTL_MS: Final = 86_400_000
STATUSES: Final = ("active", "invited", "disabled")


@dataclass(frozen=True, slots=True)
class AccountPage:
    """One page of a search over the accounts, and where it stands among all the matches."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


class Users:
    def __init__(self, db: Database, clock: Clock, accounts: Accounts, directory: Directory) -> None:
        self.db = db
        self.clock = clock
        self.accounts = accounts
        self.directory = directory

    async def search(
        self,
        viewer: Viewer,
        *,
        q: str = "",
        role: str | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = PER_PAGE,
    ) -> AccountPage:
        """Accounts whose e-mail or name contains ``q`` (any case), of ``role`` and ``status`` if given, by
        e-mail, one page of ``per_page``; with the number of all matches."""
        _operator(viewer)
        if role is not None and role not in ROLES:
            raise InvalidInput.field("role", f"must be one of {', '.join(ROLES)}")
        if status is not None and status not in STATUSES:
            raise InvalidInput.field("status", f"must be one of {', '.join(STATUSES)}")
        if not 1 <= per_page <= MAX_PER_PAGE or page < 1:
            raise InvalidInput.field("page", "is out of range")
        conditions: list[Any] = []
        words = q.strip()[:200]
        if words:
            pattern = "%" + words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(
                or_(
                    func.lower(Account.email).like(pattern, escape="\\"),
                    func.lower(Account.display_name).like(pattern, escape="\\"),
                )
            )
        if role is not None:
            conditions.append(Account.role == role)
        if status == "disabled":
            conditions.append(Account.disabled.is_(True))
        elif status == "invited":
            conditions.extend((Account.disabled.is_(False), Account.password_hash.is_(None)))
        elif status == "active":
            conditions.extend((Account.disabled.is_(False), Account.password_hash.is_not(None)))
        async with self.db.read() as session:
            total = await session.scalar(select(func.count()).select_from(Account).where(*conditions)) or 0
            rows = (
                await session.execute(
                    select(Account, MemberProfile.record_id)
                    .join(MemberProfile, MemberProfile.account_id == Account.id, isouter=True)
                    .where(*conditions)
                    .order_by(Account.email, Account.id)
                    .offset((page - 1) * per_page)
                    .limit(per_page)
                )
            ).all()
        return AccountPage([account_json(a, m) for a, m in rows], int(total), page, per_page)

    async def find(self, viewer: Viewer, who: str) -> Account:
        """An account by its e-mail address or its number (what an operator types at the console)."""
        _operator(viewer)
        async with self.db.read() as session:
            if who.isdigit():
                account = await session.get(Account, int(who))
            else:
                account = await session.scalar(select(Account).where(Account.email == normalise_email(who)))
        if account is None:
            raise NotFound(f"no account {who}")
        return account

    async def set_role(self, viewer: Viewer, account_id: int, role: str) -> dict[str, Any]:
        return await self.accounts.update_account(viewer, account_id, {"role": role})

    async def set_disabled(self, viewer: Viewer, account_id: int, disabled: bool) -> dict[str, Any]:
        """Disable (ending every session and token of the account) or enable again."""
        return await self.accounts.update_account(viewer, account_id, {"disabled": disabled})

    async def reset_link_token(self, viewer: Viewer, account_id: int) -> str:
        """A one-time token to set a new password (valid one day); earlier links of the account stop working."""
        _operator(viewer)
        now = self.clock()
        async with self.db.write() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound(f"no account {account_id}")
            if account.disabled:
                raise Conflict("this account is disabled: enable it first")
            await session.execute(delete(Invitation).where(Invitation.account_id == account_id))
            invitation, token = self.accounts.new_invitation(account.id, account.role)
            invitation.expires_at = now + RESET_TTL_MS
            session.add(invitation)
        log.info("password reset link made for account %d by operator %s", account_id, viewer.account_id)
        return token

    async def delete(self, viewer: Viewer, account_id: int) -> int:
        """Erase the account (its records withdrawn from the network); the number of records withdrawn."""
        _operator(viewer)
        if account_id == viewer.account_id:
            raise Conflict("operators cannot erase their own account here")
        erased = await self.directory.delete_member(viewer, account_id)
        log.info("account %d erased by operator %s", account_id, viewer.account_id)
        return erased.withdrawn


def _operator(viewer: Viewer) -> None:
    if not viewer.is_operator:
        log.info("refused account administration to account %s: not an operator", viewer.account_id)
        raise Forbidden("only operators manage accounts")
