"""Accounts, passwords, sessions and API tokens, invitations, and login throttling.

Passwords are hashed with Argon2id at OWASP's cost, older hashes renewed at the next sign-in, and checked against
the policy of :mod:`node.services.passwords` wherever one is set. Tokens (sessions, API tokens, invitations) are
random; only their SHA-256 is stored. Failed logins are counted per account and per client address: past a
threshold, each further failure doubles a lockout (answered with 429 and ``Retry-After``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from node.clock import Clock
from node.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from node.records.publisher import new_record_id
from node.services.passwords import MAX_PASSWORD, PasswordHasher, check_password
from node.services.profiles import default_visibility
from node.storage.database import Database, Prepared, connection, upsert
from node.storage.models import Account, AuthToken, Invitation, LoginThrottle, MemberProfile
from node.viewer import ROLES, Viewer

log = logging.getLogger(__name__)

EMAIL_RE: Final = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}\Z")
DAY_MS: Final = 86_400_000


# -------------------------------------------------------------------------------------------- passwords


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def normalise_email(email: object) -> str:
    if not isinstance(email, str) or not EMAIL_RE.match(email.strip()):
        raise InvalidInput.field("email", "is not an e-mail address")
    return email.strip().lower()


def check_role(role: object) -> str:
    if role not in ROLES:
        raise InvalidInput.field("role", f"must be one of {', '.join(ROLES)}")
    return str(role)


def check_display_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        raise InvalidInput.field("display_name", "must be 1 to 120 characters")
    return name.strip()


# ------------------------------------------------------------------------------------------- throttling


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """``free`` failures are allowed; each one past that doubles a lockout starting at ``base_ms``."""

    account_free: int = 5
    ip_free: int = 20
    base_ms: int = 1_000
    max_ms: int = 15 * 60_000
    forget_after_ms: int = 60 * 60_000

    def lockout_ms(self, failures: int, free: int) -> int:
        if failures < free:
            return 0
        return int(min(self.max_ms, self.base_ms * 2 ** min(failures - free, 30)))


# ----------------------------------------------------------------------------------------------- service


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    account: Account
    member_id: str
    expires_at: int


def account_json(account: Account, member_id: str | None) -> dict[str, Any]:
    return {
        "id": account.id,
        "member_id": member_id,
        "email": account.email,
        "display_name": account.display_name,
        "role": account.role,
        "created_at": account.created_at,
        "disabled": account.disabled,
        "activated": account.password_hash is not None,
    }


_ACCOUNTS: Final = cast(Table, Account.__table__)
_TOKENS: Final = cast(Table, AuthToken.__table__)
_PROFILES: Final = cast(Table, MemberProfile.__table__)
_AUTHENTICATE: Final = Prepared(
    select(_ACCOUNTS.c.id, _ACCOUNTS.c.role, _ACCOUNTS.c.email, _ACCOUNTS.c.disabled, _PROFILES.c.record_id)
    .select_from(
        _ACCOUNTS.join(_TOKENS, _TOKENS.c.account_id == _ACCOUNTS.c.id).outerjoin(
            _PROFILES, _PROFILES.c.account_id == _ACCOUNTS.c.id
        )
    )
    .where(_TOKENS.c.token_hash == bindparam("t_hash"), _TOKENS.c.expires_at > bindparam("t_now"))
)


class Accounts:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        hasher: PasswordHasher | None = None,
        throttle: ThrottlePolicy | None = None,
        session_ttl_ms: int = 14 * DAY_MS,
        invitation_ttl_ms: int = 30 * DAY_MS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self.throttle = throttle or ThrottlePolicy()
        self.session_ttl_ms = session_ttl_ms
        self.invitation_ttl_ms = invitation_ttl_ms
        self._dummy_hash: str | None = None

    # ---------------------------------------------------------------------------------------- creation

    async def create_account(
        self,
        session: AsyncSession,
        *,
        email: str,
        display_name: str,
        role: str = "member",
        password_hash: str | None = None,
    ) -> tuple[Account, str]:
        """Insert an account and its (empty, conservative) profile; return it and its profile's record id."""
        email = normalise_email(email)
        role = check_role(role)
        display_name = check_display_name(display_name)
        if await session.scalar(select(Account.id).where(Account.email == email)) is not None:
            raise Conflict(f"an account with e-mail {email} already exists")
        now = self.clock()
        account = Account(
            email=email,
            display_name=display_name,
            role=role,
            password_hash=password_hash,
            created_at=now,
            disabled=False,
        )
        session.add(account)
        await session.flush()
        member_id = new_record_id()
        session.add(
            MemberProfile(
                account_id=account.id,
                record_id=member_id,
                data={"display_name": display_name},
                visibility=default_visibility(),
                created_at=now,
                updated_at=now,
            )
        )
        await session.flush()
        return account, member_id

    def new_invitation(self, account_id: int, role: str) -> tuple[Invitation, str]:
        token = new_token()
        now = self.clock()
        invitation = Invitation(
            token_hash=token_hash(token),
            account_id=account_id,
            role=role,
            created_at=now,
            expires_at=now + self.invitation_ttl_ms,
            used_at=None,
        )
        return invitation, token

    async def add_user(
        self, *, email: str, display_name: str | None = None, role: str = "member", password: str | None = None
    ) -> tuple[Account, str | None]:
        """Create an account. Without a password, return an invitation token for the person to set one."""
        password_hash = None
        if password is not None:
            password_hash = await self.hasher.hash_async(check_password(password, email=email.strip().lower()))
        async with self.db.write() as session:
            account, _ = await self.create_account(
                session,
                email=email,
                display_name=display_name or email.split("@", 1)[0],
                role=role,
                password_hash=password_hash,
            )
            if password_hash is not None:
                return account, None
            invitation, token = self.new_invitation(account.id, account.role)
            session.add(invitation)
        log.info("account %d created with role %s", account.id, account.role)
        return account, token

    async def invite(self, viewer: Viewer, *, email: object, display_name: object, role: object) -> tuple[Account, str]:
        if not viewer.is_operator:
            log.info("refused invitation by account %s: not an operator", viewer.account_id)
            raise Forbidden("only operators invite people")
        if display_name is not None and not isinstance(display_name, str):
            raise InvalidInput.field("display_name", "must be a string")
        account, token = await self.add_user(
            email=normalise_email(email), display_name=display_name, role=check_role(role)
        )
        assert token is not None
        return account, token

    async def reinvite(self, viewer: Viewer, account_id: int) -> str:
        """A fresh invitation for an account that has not set its password yet (old ones stop working)."""
        if not viewer.is_operator:
            raise Forbidden("only operators invite people")
        async with self.db.write() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound(f"no account {account_id}")
            if account.password_hash is not None:
                raise Conflict("this account is already activated")
            await session.execute(delete(Invitation).where(Invitation.account_id == account_id))
            invitation, token = self.new_invitation(account.id, account.role)
            session.add(invitation)
        return token

    async def viewers_with_profiles(self) -> dict[str, Viewer]:
        """Every account that has a profile, as the viewer it signs in as, by e-mail (the demo's seeding)."""
        async with self.db.read() as session:
            rows = await session.execute(
                select(Account.id, Account.role, Account.email, MemberProfile.record_id).join(
                    MemberProfile, MemberProfile.account_id == Account.id
                )
            )
            return {
                email: Viewer(account_id=aid, role=role, member_id=rid, email=email) for aid, role, email, rid in rows
            }

    async def accept_invitation(self, token: object, password: object, client: str = "local") -> LoginResult:
        """Activate an invited account with its first password. The token is checked before the password is
        hashed (hashing is the expensive part), and failures from one address are throttled like logins."""
        if not isinstance(token, str) or not token:
            raise InvalidInput.field("token", "is required")
        keys = (f"invitation-ip:{client}"[:300],)
        now = self.clock()
        await self._check_throttle(keys, now, "invitation")
        async with self.db.read() as session:
            invitation = await session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
            email = None
            if invitation is not None:
                email = await session.scalar(select(Account.email).where(Account.id == invitation.account_id))
        if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
            async with self.db.write() as session:  # committed: the failure must count
                await self._record_failure(session, keys, now)
            log.info("refused invitation from %s: unknown, used or expired token", client)
            raise NotFound("this invitation link is unknown, used or expired")
        password_hash = await self.hasher.hash_async(check_password(password, email=email))
        async with self.db.write() as session:
            invitation = await session.scalar(
                select(Invitation).where(Invitation.token_hash == token_hash(token)).with_for_update()
            )
            if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
                raise NotFound("this invitation link is unknown, used or expired")  # used meanwhile
            account = await session.get(Account, invitation.account_id)
            if account is None or account.disabled:
                raise Forbidden("this account is disabled")
            invitation.used_at = now
            account.password_hash = password_hash
            result = await self._open_session(session, account, now)
        log.info("account %d accepted its invitation", account.id)
        return result

    async def _check_throttle(self, keys: Sequence[str], now: int, what: str) -> None:
        """Refuse (429 with the wait) while any of ``keys`` is locked out after repeated failures."""
        async with self.db.read() as session:
            locks = (await session.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))).scalars().all()
        locked_until = max((t.locked_until for t in locks), default=0)
        if locked_until > now:
            retry = max(1, math.ceil((locked_until - now) / 1000))
            log.warning("%s throttled for %s (retry in %d s)", what, ", ".join(_mask_key(k) for k in keys), retry)
            raise TooManyAttempts(f"too many failed attempts; try again in {retry} seconds", retry)

    # ------------------------------------------------------------------------------------------- login

    async def login(self, email: object, password: object, client: str) -> LoginResult:
        if not isinstance(email, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            raise InvalidInput("email and password are required", {"email": "required", "password": "required"})
        email = email.strip().lower()[:254]
        keys = (f"account:{email}", f"ip:{client}"[:300])
        now = self.clock()
        await self._check_throttle(keys, now, "login")
        async with self.db.read() as session:
            account = await session.scalar(select(Account).where(Account.email == email))
        ok = False
        if account is not None and account.password_hash is not None and not account.disabled:
            ok = await self.hasher.verify_async(password, account.password_hash)
        else:  # spend the same time as a real check so that timing does not tell which accounts exist
            await self.hasher.verify_async(password, await self._dummy())
        if not ok or account is None:
            async with self.db.write() as session:  # committed: the failure must count
                await self._record_failure(session, keys, now)
            log.warning("failed login for %s from %s", _mask(email), client)
            raise NotAuthenticated("wrong e-mail or password")
        renewed = await self._renewed_hash(password, account.password_hash)
        async with self.db.write() as session:
            await session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0]))
            if renewed is not None:
                await self._store_renewed_hash(session, account.id, account.password_hash, renewed)
            result = await self._open_session(session, account, now)
        log.info("account %d logged in from %s", account.id, client)
        return result

    async def _renewed_hash(self, password: str, stored: str | None) -> str | None:
        """A fresh hash of a just-verified ``password`` when ``stored`` is of an older scheme or cost, else None."""
        if stored is None or not self.hasher.needs_rehash(stored):
            return None
        return await self.hasher.hash_async(password)

    async def _store_renewed_hash(self, session: AsyncSession, account_id: int, old: str | None, new: str) -> None:
        """Replace the hash the password was just verified against (not one changed meanwhile by a reset)."""
        result = await session.execute(
            update(Account).where(Account.id == account_id, Account.password_hash == old).values(password_hash=new)
        )
        if cast(Any, result).rowcount:
            log.info("account %d: password hash renewed to the current scheme", account_id)

    async def _record_failure(self, session: AsyncSession, keys: Sequence[str], now: int) -> None:
        policy = self.throttle
        for key in keys:
            row = await session.get(LoginThrottle, key, with_for_update=True)
            failures = 1
            if row is not None and now - row.last_failure_at < policy.forget_after_ms:
                failures = row.failures + 1
            free = policy.ip_free if "ip:" in key else policy.account_free
            lock = policy.lockout_ms(failures, free)
            await session.execute(
                upsert(
                    session,
                    LoginThrottle,
                    {
                        "key": key,
                        "failures": failures,
                        "locked_until": now + lock if lock else 0,
                        "last_failure_at": now,
                    },
                    ("key",),
                )
            )

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hasher.hash_async(secrets.token_hex(16))
        return self._dummy_hash

    async def _open_session(self, session: AsyncSession, account: Account, now: int) -> LoginResult:
        token = new_token()
        expires = now + self.session_ttl_ms
        session.add(
            AuthToken(
                token_hash=token_hash(token), account_id=account.id, kind="session", created_at=now, expires_at=expires
            )
        )
        member_id = await session.scalar(select(MemberProfile.record_id).where(MemberProfile.account_id == account.id))
        await session.execute(delete(AuthToken).where(AuthToken.account_id == account.id, AuthToken.expires_at <= now))
        return LoginResult(token, account, member_id or "", expires)

    async def logout(self, token: str) -> None:
        async with self.db.write() as session:
            await session.execute(delete(AuthToken).where(AuthToken.token_hash == token_hash(token)))

    async def authenticate(self, token: str) -> Viewer | None:
        """The viewer a session or API token stands for, or None if it is unknown, expired or disabled.

        On every authenticated request: one statement, run as a whole read (:meth:`Database.run_read`)."""
        params = {"t_hash": token_hash(token), "t_now": self.clock()}

        def read(session: Session) -> tuple[Any, ...] | None:
            return _AUTHENTICATE.first(connection(session), params)

        row = await self.db.run_read(read)
        if row is None:
            return None
        account_id, role, email, disabled, member_id = row
        if disabled:
            return None
        return Viewer(account_id=account_id, role=role, member_id=member_id, email=email)

    # ------------------------------------------------------------------------------------- administration

    async def list_accounts(self, viewer: Viewer, *, after: int, limit: int) -> list[dict[str, Any]]:
        if not viewer.is_staff:
            log.info("refused account list to account %s", viewer.account_id)
            raise Forbidden("only operators and advisors list accounts")
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(Account, MemberProfile.record_id)
                    .join(MemberProfile, MemberProfile.account_id == Account.id, isouter=True)
                    .where(Account.id > after)
                    .order_by(Account.id)
                    .limit(limit)
                )
            ).all()
        return [account_json(a, m) for a, m in rows]

    async def update_account(self, viewer: Viewer, account_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        if not viewer.is_operator:
            log.info("refused account change by account %s: not an operator", viewer.account_id)
            raise Forbidden("only operators manage accounts")
        unknown = sorted(set(changes) - {"role", "disabled", "display_name"})
        if unknown:
            raise InvalidInput(f"unknown fields: {', '.join(unknown)}", {k: "unknown field" for k in unknown})
        if account_id == viewer.account_id and (
            changes.get("disabled") or changes.get("role", "operator") != "operator"
        ):
            raise Conflict("operators cannot disable or demote themselves")
        async with self.db.write() as session:
            account = await session.get(Account, account_id)
            if account is None:
                raise NotFound(f"no account {account_id}")
            if "role" in changes:
                account.role = check_role(changes["role"])
            if "display_name" in changes:
                account.display_name = check_display_name(changes["display_name"])
            if "disabled" in changes:
                if not isinstance(changes["disabled"], bool):
                    raise InvalidInput.field("disabled", "must be true or false")
                account.disabled = changes["disabled"]
                if account.disabled:
                    await session.execute(delete(AuthToken).where(AuthToken.account_id == account_id))
            member_id = await session.scalar(
                select(MemberProfile.record_id).where(MemberProfile.account_id == account_id)
            )
        log.info("account %d changed by operator %s: %s", account_id, viewer.account_id, sorted(changes))
        return account_json(account, member_id)

    async def get_account(self, account_id: int) -> Account:
        async with self.db.read() as session:
            account = await session.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        return account

    async def verify_password(self, account_id: int, password: object) -> None:
        """Re-check a logged-in member's password before an irreversible action (erasure); repeated failures
        lock the check out like a login (a stolen session must not become a password oracle)."""
        keys = (f"confirm:{account_id}",)
        now = self.clock()
        await self._check_throttle(keys, now, "password confirmation")
        account = await self.get_account(account_id)
        if (
            not isinstance(password, str)
            or len(password) > MAX_PASSWORD
            or account.password_hash is None
            or not await self.hasher.verify_async(password, account.password_hash)
        ):
            async with self.db.write() as session:
                await self._record_failure(session, keys, now)
            log.warning("password confirmation failed for account %d", account_id)
            raise Forbidden("the password does not match")
        async with self.db.write() as session:
            await session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0]))

    async def sign_in_verified_email(self, email: str, client: str) -> LoginResult:
        """A session for the account with ``email``, which the coop's identity provider has verified
        (:mod:`node.services.coop_sign_in`). Only an existing account signs in (invited or active; nobody gets an
        account by having one at the provider), never a disabled one; an invited account is thereby activated
        (its invitation links stop working). The role is the one the operator gave."""
        address = email.strip().lower()
        now = self.clock()
        async with self.db.write() as session:
            account = await session.scalar(select(Account).where(Account.email == address))
            if account is None:
                log.info("coop sign-in refused for %s from %s: no account with this address", _mask(address), client)
                raise Forbidden("no account here has this e-mail address: ask the coop's operators for an invitation")
            if account.disabled:
                log.info("coop sign-in refused for account %d from %s: disabled", account.id, client)
                raise Forbidden("this account is disabled")
            if account.password_hash is None:
                await session.execute(
                    update(Invitation)
                    .where(Invitation.account_id == account.id, Invitation.used_at.is_(None))
                    .values(used_at=now)
                )
            result = await self._open_session(session, account, now)
        log.info("account %d signed in through the coop's identity provider from %s", account.id, client)
        return result


def _mask_key(key: str) -> str:
    """A throttle key for logs: an account's e-mail is masked, an address or an account id is not."""
    kind, _, value = key.partition(":")
    return f"{kind}:{_mask(value)}" if kind == "account" else key


def _mask(email: str) -> str:
    """An e-mail address for logs: enough to correlate, not enough to read it."""
    return "acct#" + hashlib.sha256(email.encode()).hexdigest()[:10]
