"""Sign-in with the coop's identity provider (OpenID Connect: Nextcloud, Keycloak…), optional per node.

The authorization code flow with PKCE (authlib's OAuth 2 client over httpx): :meth:`CoopSignIn.start` gives the
provider's authorization URL and remembers, for ten minutes and in this process, the ``state``, the ``nonce``
and the PKCE verifier; the browser carries the ``state`` back both in the URL and in a cookie of its own (so a
sign-in started by someone else cannot be finished in this browser). :meth:`CoopSignIn.finish` exchanges the
code (the client secret goes to the provider's token endpoint only), checks the ID token's signature against the
provider's published keys (joserfc), its issuer, audience, expiry and nonce, then links the person to an account
of this node by e-mail address: the provider must say the address is verified (an unverified one is refused, or
anyone could claim any address there), and an account with that address must exist here, invited or active
(nobody gets an account just by having one at the provider). Roles stay what the operator gave.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

import httpx2 as httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from node.config import OidcSettings
from node.errors import Forbidden, NotAuthenticated, Unavailable
from node.services.accounts import Accounts, LoginResult

log = logging.getLogger(__name__)

PENDING_SECONDS: Final = 600
MAX_PENDING: Final = 10_000
METADATA_SECONDS: Final = 3600
TIMEOUT: Final = httpx.Timeout(10.0)


@dataclass(frozen=True, slots=True)
class Pending:
    nonce: str
    verifier: str
    next: str
    started: float


class CoopSignIn:
    """One node's client at the coop's identity provider."""

    def __init__(self, settings: OidcSettings, redirect_uri: str, accounts: Accounts) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self.accounts = accounts
        self._pending: dict[str, Pending] = {}
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None

    @property
    def label(self) -> str:
        return self.settings.label

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            scope=self.settings.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached an hour); its issuer must be the configured one."""
        if self._metadata is not None and time.monotonic() - self._metadata[0] < METADATA_SECONDS:
            return self._metadata[1]
        url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        found = await self._get_json(url)
        if found.get("issuer") != self.settings.issuer.rstrip("/") and found.get("issuer") != self.settings.issuer:
            log.error("the identity provider at %s names another issuer: %r", url, found.get("issuer"))
            raise Unavailable("the coop's identity provider is misconfigured (issuer mismatch)")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise Unavailable(f"the coop's identity provider gives no {key}")
        self._metadata = (time.monotonic(), found)
        return found

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.get(url, headers={"Accept": "application/json"})
                answer.raise_for_status()
                found = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("the identity provider did not answer %s: %s", url, type(exc).__name__)
            raise Unavailable("the coop's identity provider cannot be reached; try again later") from exc
        if not isinstance(found, dict):
            raise Unavailable("the coop's identity provider answered something unreadable")
        return found

    async def start(self, next_path: str) -> tuple[str, str]:
        """The provider's authorization URL to send the browser to, and the ``state`` for its cookie."""
        meta = await self.metadata()
        self._forget_stale()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        self._pending[state] = Pending(nonce, verifier, next_path, time.monotonic())
        return url, state

    def _forget_stale(self) -> None:
        now = time.monotonic()
        for state in [s for s, p in self._pending.items() if now - p.started > PENDING_SECONDS]:
            del self._pending[state]
        while len(self._pending) >= MAX_PENDING:  # a flood of started sign-ins: the oldest go first
            del self._pending[next(iter(self._pending))]

    async def finish(self, *, state: str, cookie_state: str | None, code: str, client: str) -> tuple[LoginResult, str]:
        """Finish a sign-in the provider sent back: the session, and where to go next."""
        if not state or cookie_state is None or not secrets.compare_digest(state, cookie_state):
            log.warning("coop sign-in refused from %s: the state does not match this browser's", client)
            raise NotAuthenticated("this sign-in was not started in this browser; start again")
        pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.started > PENDING_SECONDS:
            log.info("coop sign-in refused from %s: unknown or expired state", client)
            raise NotAuthenticated("this sign-in took too long or was already used; start again")
        meta = await self.metadata()
        try:
            async with self._client() as oauth:
                token = await oauth.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=pending.verifier, grant_type="authorization_code"
                )
        except Exception as exc:  # authlib raises its own errors and httpx's; none may leak the secret
            log.warning("coop sign-in from %s: the provider refused the code (%s)", client, type(exc).__name__)
            raise NotAuthenticated("the coop's identity provider refused this sign-in; start again") from exc
        claims = await self._id_claims(token, pending.nonce, meta)
        email, verified = claims.get("email"), claims.get("email_verified")
        if (email is None or verified is None) and isinstance(meta.get("userinfo_endpoint"), str):
            info = await self._userinfo(meta["userinfo_endpoint"], token)
            if info.get("sub") != claims.get("sub"):  # OIDC Core 5.3.2: else the answer is about someone else
                log.warning("coop sign-in refused from %s: userinfo names another subject", client)
                raise NotAuthenticated("the coop's identity provider answered about someone else")
            claims = {**info, **claims}
            email = claims.get("email")
            verified = claims.get("email_verified")
        if not isinstance(email, str) or not email:
            log.info("coop sign-in refused from %s: the provider gave no e-mail address", client)
            raise Forbidden("the coop's identity provider gave no e-mail address")
        if verified is not True and verified != "true":
            log.info("coop sign-in refused from %s: the provider has not verified the e-mail address", client)
            raise Forbidden("the coop's identity provider has not verified this e-mail address")
        result = await self.accounts.sign_in_verified_email(email, client)
        return result, pending.next

    async def _id_claims(self, token: dict[str, Any], nonce: str, meta: dict[str, Any]) -> dict[str, Any]:
        raw = token.get("id_token")
        if not isinstance(raw, str):
            raise NotAuthenticated("the coop's identity provider sent no ID token")
        try:
            decoded = jwt.decode(raw, await self._key_set(meta, refresh=False))
        except JoseError:
            try:  # the provider may have rotated its keys: read them again once
                decoded = jwt.decode(raw, await self._key_set(meta, refresh=True))
            except (JoseError, ValueError) as exc:
                log.warning("coop sign-in: an ID token with a bad signature (%s)", type(exc).__name__)
                raise NotAuthenticated("the ID token of the coop's identity provider is not valid") from exc
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": self.settings.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            log.warning("coop sign-in: an ID token refused (%s)", exc.error)
            raise NotAuthenticated("the ID token of the coop's identity provider is not valid") from exc
        return dict(decoded.claims)

    async def _key_set(self, meta: dict[str, Any], *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(await self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    async def _userinfo(self, url: str, token: dict[str, Any]) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as http:
                answer = await http.get(url, headers={"Authorization": f"Bearer {token.get('access_token', '')}"})
                answer.raise_for_status()
                found = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable("the coop's identity provider cannot be reached; try again later") from exc
        return found if isinstance(found, dict) else {}
