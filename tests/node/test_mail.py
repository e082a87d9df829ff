"""Outgoing e-mail end to end: a real SMTP server on loopback (aiosmtpd, the demo's mail catcher) receives what
the node sends: invitations, password resets, notifications and digests; the queue's restarts and retries."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import ipaddress
import logging
import re
import ssl
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update

import protocol
from node.app import create_app
from node.clock import ManualClock
from node.compose import NodeOptions, open_node
from node.config import NodeConfig, create_node_dir
from node.demo.mail_catcher import MailCatcher, html_of, text_of
from node.services.mail_queue import INTERRUPTED, MailPolicy
from node.services.saved_searches import OVERLAP_MS
from node.storage.mail_models import DigestItem, MailSettings, OutgoingMail, PasswordReset
from tests.node.conftest import FAST_HASHER, PASSWORD, REMOTE_KEY, Api
from tests.node.test_moving import drain, login, peer_with, replicate
from tests.node.test_onboarding import CASE, staff
from tests.node.test_onboarding import deliver as case_deliver
from tests.node.test_onboarding import drain as case_drain
from tests.node.test_onboarding import peer_with as case_peer_with
from tests.node.test_remote_events import deliver as hand_over
from tests.node.test_remote_events import organise
from tests.node.test_saved_searches import MINUTE, _member, _receive

URL_RE = re.compile(r"http://127\.0\.0\.1:8400(/\S+)")


@pytest.fixture
async def catcher(tmp_path: Path) -> AsyncIterator[MailCatcher]:
    c = await MailCatcher(folder=tmp_path / "mail").start()
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
def mail_config(node_config: NodeConfig, catcher: MailCatcher) -> NodeConfig:
    return dataclasses.replace(node_config, smtp_host="127.0.0.1", smtp_port=catcher.port, smtp_security="none")


@pytest.fixture
def mail_options(clock: ManualClock) -> NodeOptions:
    return NodeOptions(clock=clock, hasher=FAST_HASHER, mail_policy=MailPolicy(max_attempts=3, base_ms=1_000))


@pytest.fixture
async def mapi(aiohttp_client: Any, mail_config: NodeConfig, mail_options: NodeOptions) -> Api:
    app = create_app(mail_config, options=mail_options, check_responses=True)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return Api(client)


def link_in(message: EmailMessage, path_start: str) -> str:
    """The path of the first link in the mail's text that starts with ``path_start`` (and the same in HTML)."""
    paths = [str(p) for p in URL_RE.findall(text_of(message)) if p.startswith(path_start)]
    assert paths, text_of(message)
    assert paths[0] in html_of(message)
    return paths[0]


async def deliver(api: Api, catcher: MailCatcher, expected_total: int) -> list[EmailMessage]:
    await api.services.mail.run_due()
    return await catcher.wait_for(expected_total)


async def test_invitation_mail_then_activation(mapi: Api, catcher: MailCatcher) -> None:
    await mapi.user("op@coopaname.example", role="operator")
    invited = await mapi.call(
        "POST", "/api/v1/accounts", "op@coopaname.example", {"email": "Lea@Example.org", "display_name": "Léa"}, 201
    )
    assert invited["resent"] is False
    [mail] = await deliver(mapi, catcher, 1)
    assert mail["To"] == "lea@example.org"
    assert "Coopaname" in str(mail["From"]) and "noreply@127.0.0.1" in str(mail["From"])
    assert mail["Subject"] == "Votre invitation à Coopaname sur Bigre"  # French by default
    assert mail["Content-Language"] == "fr" and mail["Auto-Submitted"] == "auto-generated"
    first = link_in(mail, "/invitation/")
    # inviting again an address that never activated sends a fresh link (it used to answer 409)
    again = await mapi.call(
        "POST", "/api/v1/accounts", "op@coopaname.example", {"email": "lea@example.org", "language": "en"}, 201
    )
    assert again["resent"] is True and again["id"] == invited["id"]
    second_mail = (await deliver(mapi, catcher, 2))[1]
    assert second_mail["Subject"] == "Your invitation to Coopaname on Bigre"
    second = link_in(second_mail, "/invitation/")
    assert second != first
    old_token, token = first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]
    await mapi.call("POST", "/api/v1/auth/accept", None, {"token": old_token, "password": PASSWORD}, 404)
    signed = await mapi.call("POST", "/api/v1/auth/accept", None, {"token": token, "password": PASSWORD}, 200)
    assert signed["account"]["id"] == invited["id"]
    await mapi.call("POST", "/api/v1/auth/login", None, {"email": "lea@example.org", "password": PASSWORD}, 200)
    # an activated account is not invited again
    await mapi.call("POST", "/api/v1/accounts", "op@coopaname.example", {"email": "lea@example.org"}, 409)


async def test_reset_by_mail_ends_every_session(mapi: Api, catcher: MailCatcher) -> None:
    await mapi.user("lea@coopaname.example")
    old_token = mapi.tokens["lea@coopaname.example"]
    await mapi.call("GET", "/api/v1/me/mail-settings", "lea@coopaname.example", expect=200)
    known = await mapi.call("POST", "/api/v1/auth/password-reset", None, {"email": "lea@coopaname.example"}, 202)
    unknown = await mapi.call("POST", "/api/v1/auth/password-reset", None, {"email": "nobody@coopaname.example"}, 202)
    assert known == unknown  # no one learns which addresses have an account
    [mail] = await deliver(mapi, catcher, 1)
    assert mail["To"] == "lea@coopaname.example"
    token = link_in(mail, "/password/reset/").rsplit("/", 1)[1]
    assert await mapi.services.mail.run_due() == 0  # nothing for the unknown address
    new_password = "a brand new passphrase"
    signed = await mapi.call(
        "POST", "/api/v1/auth/password-reset/confirm", None, {"token": token, "password": new_password}, 200
    )
    assert signed["token"] != old_token
    await mapi.call("GET", "/api/v1/me/mail-settings", "lea@coopaname.example", expect=401)  # old session gone
    await mapi.call(
        "POST", "/api/v1/auth/password-reset/confirm", None, {"token": token, "password": "another one here"}, 404
    )  # single use
    await mapi.call("POST", "/api/v1/auth/login", None, {"email": "lea@coopaname.example", "password": PASSWORD}, 401)
    await mapi.call(
        "POST", "/api/v1/auth/login", None, {"email": "lea@coopaname.example", "password": new_password}, 200
    )
    changed = (await deliver(mapi, catcher, 2))[1]
    assert "changé" in str(changed["Subject"])


async def test_reset_link_expires(mapi: Api, catcher: MailCatcher, clock: ManualClock) -> None:
    await mapi.user("lea@coopaname.example")
    await mapi.call("POST", "/api/v1/auth/password-reset", None, {"email": "lea@coopaname.example"}, 202)
    token = link_in((await deliver(mapi, catcher, 1))[0], "/password/reset/").rsplit("/", 1)[1]
    clock.advance(61 * 60_000)
    await mapi.call(
        "POST", "/api/v1/auth/password-reset/confirm", None, {"token": token, "password": "a brand new one"}, 404
    )


async def test_change_password_keeps_this_session_only(mapi: Api, catcher: MailCatcher) -> None:
    await mapi.user("lea@coopaname.example")
    other = mapi.tokens["lea@coopaname.example"]
    resp = await mapi.client.post("/api/v1/auth/login", json={"email": "lea@coopaname.example", "password": PASSWORD})
    this = (await resp.json())["token"]
    mapi.tokens["lea@coopaname.example"] = this
    wrong = {"current_password": "not my password", "new_password": "a brand new passphrase"}
    await mapi.call("POST", "/api/v1/me/password", "lea@coopaname.example", wrong, 422)
    right = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    await mapi.call("POST", "/api/v1/me/password", "lea@coopaname.example", right, 204)
    await mapi.call("GET", "/api/v1/me/mail-settings", "lea@coopaname.example", expect=200)  # this one stays
    mapi.tokens["lea@coopaname.example"] = other
    await mapi.call("GET", "/api/v1/me/mail-settings", "lea@coopaname.example", expect=401)  # the other ended
    [mail] = await deliver(mapi, catcher, 1)
    assert mail["To"] == "lea@coopaname.example" and "/password/forgot" in text_of(mail)


async def test_message_notification_respects_settings_and_unsubscribes(mapi: Api, catcher: MailCatcher) -> None:
    lea = await mapi.user("lea@coopaname.example", display_name="Léa")
    await mapi.user("sam@coopaname.example", display_name="Sam")
    settings = await mapi.call("GET", "/api/v1/me/mail-settings", "lea@coopaname.example", expect=200)
    assert settings["modes"]["message"] == "immediate" and "decision" not in settings["modes"]
    await mapi.call("PUT", "/api/v1/me/mail-settings", "lea@coopaname.example", {"language": "en"}, 200)
    body = {"to_member": lea, "subject": "Atelier", "text": "Bonjour Léa"}
    await mapi.call("POST", "/api/v1/messages", "sam@coopaname.example", body, 202)
    [mail] = await deliver(mapi, catcher, 1)
    assert mail["To"] == "lea@coopaname.example"
    assert "Sam wrote to you: “Atelier”" in text_of(mail)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(mail["List-Unsubscribe"]).strip().strip("<>")
    path = unsubscribe.removeprefix("http://127.0.0.1:8400")
    assert path in text_of(mail)
    # switched off: no mail
    await mapi.call("PUT", "/api/v1/me/mail-settings", "lea@coopaname.example", {"modes": {"message": "off"}}, 200)
    await mapi.call("POST", "/api/v1/messages", "sam@coopaname.example", body, 202)
    assert await mapi.services.mail.run_due() == 0
    # on again, then the one-click unsubscribe of RFC 8058, by a client that is not signed in
    await mapi.call(
        "PUT", "/api/v1/me/mail-settings", "lea@coopaname.example", {"modes": {"message": "immediate"}}, 200
    )
    mapi.client.session.cookie_jar.clear()
    altered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    resp = await mapi.client.post(altered, data={"List-Unsubscribe": "One-Click"})
    assert resp.status == 404
    resp = await mapi.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert resp.status == 200, await resp.text()
    settings = await mapi.call("GET", "/api/v1/me/mail-settings", "lea@coopaname.example", expect=200)
    assert settings["modes"]["message"] == "off"
    assert settings["modes"]["help_answer"] == "immediate"  # only that kind


async def test_daily_digest_groups_and_is_sent_once(mapi: Api, catcher: MailCatcher, clock: ManualClock) -> None:
    lea = await mapi.user("lea@coopaname.example", display_name="Léa")
    await mapi.user("sam@coopaname.example", display_name="Sam")
    await mapi.user("ana@coopaname.example", display_name="Ana")
    await mapi.call("PUT", "/api/v1/me/mail-settings", "lea@coopaname.example", {"modes": {"message": "daily"}}, 200)
    for who, subject in (("sam", "Atelier"), ("ana", "Chantier"), ("sam", "Relance")):
        body = {"to_member": lea, "subject": subject, "text": "Bonjour"}
        await mapi.call("POST", "/api/v1/messages", f"{who}@coopaname.example", body, 202)
    assert await mapi.services.mail.run_due() == 0  # nothing at once
    assert await mapi.services.notifications.run_digests() == 1
    [mail] = await deliver(mapi, catcher, 1)
    text = text_of(mail)
    assert mail["Subject"] == "Coopaname · Votre résumé du jour"
    assert text.count("Nouveaux messages") == 1  # one heading for the kind, three lines under it
    for line in ("Sam vous a écrit : « Atelier »", "Ana vous a écrit : « Chantier »", "« Relance »"):
        assert line in text, text
    assert await mapi.services.notifications.run_digests() == 0  # mailed once
    body = {"to_member": lea, "subject": "Demain", "text": "Bonjour"}
    await mapi.call("POST", "/api/v1/messages", "ana@coopaname.example", body, 202)
    assert await mapi.services.notifications.run_digests() == 0  # not before a day has passed
    clock.advance(24 * 3_600_000)
    assert await mapi.services.notifications.run_digests() == 1
    second = (await deliver(mapi, catcher, 2))[1]
    assert "Demain" in text_of(second) and "Atelier" not in text_of(second)


async def test_queue_survives_a_restart_without_duplicates(
    mail_config: NodeConfig, mail_options: NodeOptions, catcher: MailCatcher
) -> None:
    node = await open_node(mail_config, mail_options)
    try:
        for name in ("a", "b", "c"):
            await node.invitations.invite(None, email=f"{name}@example.org")
        # a stop in the middle of a delivery: one mail claimed ("sending"), never settled
        claimed = await node.mail._claim()
        assert len(claimed) == 3
        async with node.db.write() as session:
            await session.execute(update(OutgoingMail).where(OutgoingMail.id != claimed[0][0]).values(status="queued"))
    finally:
        await node.close()
    node = await open_node(mail_config, mail_options)
    try:
        await node.mail.recover()  # what Node.start does first
        assert await node.mail.run_due() == 2
        received = await catcher.wait_for(2)
        assert sorted(str(m["To"]) for m in received) == ["b@example.org", "c@example.org"]
        assert await node.mail.run_due() == 0
        async with node.db.read() as session:  # a sent mail's content (a live invitation link) is not kept
            sent = (await session.execute(select(OutgoingMail).where(OutgoingMail.status == "sent"))).scalars().all()
        assert len(sent) == 2 and all(m.message == b"" for m in sent)
        failed = await node.mail.list_mails(None, status="failed")
        assert [(m["to"], m["last_error"]) for m in failed] == [("a@example.org", INTERRUPTED)]
        await node.mail.retry(None, failed[0]["id"])
        assert await node.mail.run_due() == 1
        assert len(await catcher.wait_for(3)) == 3
    finally:
        await node.close()


async def test_smtp_failure_retried_with_backoff_then_failed(
    mapi: Api, catcher: MailCatcher, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    await mapi.user("op@coopaname.example", role="operator")
    await mapi.user("lea@coopaname.example")
    catcher.refuse_with = "451 4.3.0 try again later"
    await mapi.call("POST", "/api/v1/auth/password-reset", None, {"email": "lea@coopaname.example"}, 202)
    mail_queue = mapi.services.mail
    waits = []
    for attempt in range(1, 4):
        assert await mail_queue.run_due() == 0
        async with mapi.services.db.read() as session:
            row = (await session.execute(select(OutgoingMail))).scalar_one()
        assert row.attempts == attempt and "451" in (row.last_error or "")
        if attempt < 3:
            assert row.status == "queued"
            waits.append(row.next_attempt_at - clock())
            assert await mail_queue.run_due() == 0 and (await mail_queue.list_mails(None))[0]["attempts"] == attempt
            clock.advance(row.next_attempt_at - clock())
    assert waits == [1_000, 2_000]  # doubling
    listed = await mapi.call("GET", "/api/v1/mail?status=failed", "op@coopaname.example", expect=200)
    assert listed["counts"]["failed"] == 1 and listed["items"][0]["to"] == "lea@coopaname.example"
    await mapi.call("GET", "/api/v1/mail", "lea@coopaname.example", expect=403)
    # the operator's page shows it, with its error and a button to send it again
    client = mapi.client
    client.session.cookie_jar.update_cookies({"bigre_session": mapi.tokens["op@coopaname.example"]})
    resp = await client.get("/operator/mail", headers={"Accept-Language": "fr"})
    page = await resp.text()
    assert resp.status == 200 and "lea@coopaname.example" in page and "451" in page and "en échec" in page
    assert f'action="/operator/mail/{listed["items"][0]["id"]}/retry"' in page
    client.session.cookie_jar.clear()
    catcher.refuse_with = None
    await mapi.call("POST", f"/api/v1/mail/{listed['items'][0]['id']}/retry", "op@coopaname.example", expect=204)
    await mapi.call("POST", f"/api/v1/mail/{listed['items'][0]['id']}/retry", "op@coopaname.example", expect=409)
    [mail] = await deliver(mapi, catcher, 1)
    assert mail["To"] == "lea@coopaname.example"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
async def test_the_job_sends_and_the_password_stays_out_of_logs(
    aiohttp_client: Any, mail_config: NodeConfig, catcher: MailCatcher, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-smtp-passw0rd"
    config = dataclasses.replace(mail_config, smtp_password=secret, smtp_username="bigre", mail_seconds=0.05)
    assert secret not in repr(config)
    catcher.credentials = ("bigre", secret)  # the server refuses mail without them
    caplog.set_level(logging.DEBUG)
    app = create_app(config, options=NodeOptions(hasher=FAST_HASHER), check_responses=True)
    api = Api(await aiohttp_client(app))
    await api.user("op@coopaname.example", role="operator")
    await api.call("POST", "/api/v1/accounts", "op@coopaname.example", {"email": "lea@example.org"}, 201)
    [mail] = await catcher.wait_for(1)  # sent by the scheduled job, nobody called run_due
    assert mail["To"] == "lea@example.org"
    plain = base64.b64encode(f"\0bigre\0{secret}".encode()).decode()  # AUTH PLAIN's form of it
    assert (
        secret not in caplog.text
        and plain not in caplog.text
        and base64.b64encode(secret.encode()).decode() not in caplog.text
    )


async def test_help_answer_and_decision_notices(mapi: Api, catcher: MailCatcher) -> None:
    await mapi.user("op@coopaname.example", role="operator")
    await mapi.user("lea@coopaname.example", display_name="Léa")
    await mapi.user("sam@coopaname.example", display_name="Sam")
    request = await mapi.call(
        "POST", "/api/v1/help-requests", "lea@coopaname.example", {"topic": "Statuts de Scop", "text": "Modèle ?"}, 201
    )
    await mapi.call(
        "POST", f"/api/v1/help-requests/{request['id']}/answers", "sam@coopaname.example", {"text": "Voici"}, 201
    )
    [mail] = await deliver(mapi, catcher, 1)
    assert mail["To"] == "lea@coopaname.example"
    assert "Une réponse à votre demande d’aide « Statuts de Scop » : Voici" in text_of(mail)
    # a proposal open to the coop's vote: each operator is told, once (proposals are replayed at every start)
    ref = await mapi.services.governance.propose("suspension", "oxalis")
    [_, decision] = await deliver(mapi, catcher, 2)
    assert decision["To"] == "op@coopaname.example" and "/governance" in text_of(decision)
    assert "oxalis" in text_of(decision)
    await mapi.services.notifications.decision_to_vote(ref, "oxalis", 1_900_000_000_000)
    assert await mapi.services.mail.run_due() == 0


async def test_an_answer_from_another_coop_is_noticed_once(mapi: Api, catcher: MailCatcher) -> None:
    """A member of another coop answers a help request of this node: the answer arrives by replication, and the
    request's author gets the same mail as for a local answer, once however often the node sees the answer."""
    await mapi.user("lea@coopaname.example", display_name="Léa")
    request = await mapi.call(
        "POST", "/api/v1/help-requests", "lea@coopaname.example", {"topic": "Devis de charpente", "text": "?"}, 201
    )
    services = mapi.services
    body = {"request": f"{services.config.name}/{request['id']}", "text": "Je peux relire", "author": "m-smart-1"}
    entry = protocol.sign_entry(
        REMOTE_KEY,
        type="help_answer",
        type_version=protocol.RECORD_TYPES["help_answer"].version,
        origin="smart",
        id="a-smart-1",
        seq=1,
        created=1_800_000_000_000,
        ts=1_800_000_000_000,
        prev=None,
        body=body,
    )
    record = protocol.Record(entry, protocol.check_body(entry))
    await services.federation_store.store_run([record], 1)
    [mail] = await deliver(mapi, catcher, 1)
    assert mail["To"] == "lea@coopaname.example"
    assert "« Devis de charpente » : Je peux relire" in text_of(mail)
    assert await services.things.notice_received_answers([record]) == 1  # seen again (e.g. a fork repair)
    assert await services.mail.run_due() == 0  # but told once


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it as its CA file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS: aiosmtpd cannot tell
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_and_starttls(
    tmp_path: Path, node_config: NodeConfig, clock: ManualClock, security: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the transport does not depend on the database")
    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    catcher = await MailCatcher(tls=server_tls, implicit_tls=security == "tls", credentials=("bigre", "pw")).start()
    plain = await MailCatcher().start()  # a server without TLS: a STARTTLS node must not send to it in clear
    try:
        options = NodeOptions(clock=clock, hasher=FAST_HASHER, smtp_ca_file=str(cert))
        config = dataclasses.replace(
            node_config,
            smtp_host="127.0.0.1",
            smtp_port=catcher.port,
            smtp_security=security,
            smtp_username="bigre",
            smtp_password="pw",
        )
        node = await open_node(config, options)
        try:
            await node.invitations.invite(None, email="lea@example.org")
            assert await node.mail.run_due() == 1
            [mail] = await catcher.wait_for(1)
            assert mail["To"] == "lea@example.org"
        finally:
            await node.close()
        if security == "starttls":
            node = await open_node(dataclasses.replace(config, smtp_port=plain.port), options)
            try:
                await node.invitations.invite(None, email="sam@example.org")
                assert await node.mail.run_due() == 0
                [queued] = await node.mail.list_mails(None, status="queued")
                assert "STARTTLS" in (queued["last_error"] or ""), queued
                assert plain.received == []
            finally:
                await node.close()
    finally:
        await catcher.stop()
        await plain.stop()


async def test_erasure_removes_the_accounts_mail(mapi: Api, catcher: MailCatcher) -> None:
    await mapi.user("op@coopaname.example", role="operator")
    lea = await mapi.user("lea@coopaname.example")
    await mapi.call("PUT", "/api/v1/me/mail-settings", "lea@coopaname.example", {"modes": {"message": "daily"}}, 200)
    await mapi.call("POST", "/api/v1/auth/password-reset", None, {"email": "lea@coopaname.example"}, 202)
    body = {"to_member": lea, "subject": "Atelier", "text": "Bonjour"}
    await mapi.call("POST", "/api/v1/messages", "op@coopaname.example", body, 202)
    accounts = await mapi.call("GET", "/api/v1/accounts", "op@coopaname.example", expect=200)
    lea_id = next(a["id"] for a in accounts["items"] if a["email"] == "lea@coopaname.example")
    await mapi.call("DELETE", f"/api/v1/accounts/{lea_id}", "op@coopaname.example", expect=204)
    async with mapi.services.db.read() as session:
        for model in (OutgoingMail, PasswordReset, MailSettings, DigestItem):
            rows = (await session.execute(select(model).where(model.account_id == lea_id))).scalars().all()
            assert rows == [], model


async def test_event_registration_answer_is_mailed_once(
    tmp_path: Path, mail_config: NodeConfig, mail_options: NodeOptions, catcher: MailCatcher
) -> None:
    a = await open_node(mail_config, mail_options)
    b_config = create_node_dir(tmp_path / "smart", name="smart", url="http://127.0.0.1:8401", display_name="SMart")
    b = await open_node(b_config, mail_options)
    try:
        await peer_with(a, b)
        await peer_with(b, a)
        _, event_id = await organise(b)
        await replicate(b, a)
        lea = await login(a, "lea@coopaname.example")
        await a.remote_events.register(lea, "smart", event_id)
        assert await hand_over(await drain(a, "smart"), b) == [True]
        answers = await drain(b, "coopaname")
        assert await hand_over(answers, a) == [True]
        assert await hand_over(answers, a) == [False]  # the same answer again: no second notice, no second mail
        assert await a.mail.run_due() == 1
        [mail] = await catcher.wait_for(1)
        assert mail["To"] == "lea@coopaname.example"
        assert "Votre inscription est confirmée : Atelier comptabilité coopérative (smart)" in text_of(mail)
        assert await a.mail.run_due() == 0
    finally:
        await b.close()
        await a.close()


async def test_a_shared_case_update_is_mailed_to_the_advisors_once(
    tmp_path: Path, mail_config: NodeConfig, mail_options: NodeOptions, catcher: MailCatcher
) -> None:
    b = await open_node(mail_config, mail_options)  # receives the case, mails its advisors
    a_config = create_node_dir(tmp_path / "smart", name="smart", url="http://127.0.0.1:8401", display_name="SMart")
    a = await open_node(a_config, mail_options)
    try:
        await case_peer_with(a, b)
        await case_peer_with(b, a)
        advisor_a = await staff(a, "conseil@smart.example")
        await staff(b, "conseil@coopaname.example")
        await staff(b, "membre@coopaname.example", role="member")  # not an advisor: nothing
        case = await a.onboarding.create_case(advisor_a, CASE)
        await a.onboarding.share(advisor_a, "smart", case["id"], "coopaname")
        shares = await case_drain(a, "coopaname")
        assert await case_deliver(shares, b) == [True]
        assert await case_deliver(shares, b) == [False]  # the same snapshot again: no second mail
        assert await b.mail.run_due() == 1
        [mail] = await catcher.wait_for(1)
        assert mail["To"] == "conseil@coopaname.example"
        assert f"Le dossier d’accueil « {CASE['title']} » a été mis à jour par smart" in text_of(mail)
        assert f"/advisor/cases/smart/{case['id']}" in text_of(mail)
    finally:
        await a.close()
        await b.close()


async def test_a_case_update_by_an_advisor_is_mailed_to_the_coops_other_advisors(
    mail_config: NodeConfig, mail_options: NodeOptions, catcher: MailCatcher
) -> None:
    node = await open_node(mail_config, mail_options)
    try:
        first = await staff(node, "conseil@coopaname.example")
        await staff(node, "conseil2@coopaname.example")
        await staff(node, "membre@coopaname.example", role="member")  # not an advisor: nothing
        case = await node.onboarding.create_case(first, CASE)
        await node.onboarding.move_stage(first, "coopaname", case["id"], "co_accompaniment")
        assert await node.mail.run_due() == 1  # the other advisor only, not the one who moved it
        [mail] = await catcher.wait_for(1)
        assert mail["To"] == "conseil2@coopaname.example"
        expected = f"Le dossier d’accueil « {CASE['title']} » a été mis à jour par conseil@coopaname.example"
        assert expected in text_of(mail)
        assert f"/advisor/cases/coopaname/{case['id']}" in text_of(mail)
    finally:
        await node.close()


async def test_saved_search_matches_go_to_the_daily_digest(
    mail_config: NodeConfig, mail_options: NodeOptions, catcher: MailCatcher, clock: ManualClock
) -> None:
    node = await open_node(mail_config, mail_options)
    try:
        alice = await _member(node, "alice@example.org")
        await node.saved_searches.save(alice, {"q": "graphiste"})
        clock.advance(OVERLAP_MS + MINUTE)
        await _receive(node, "smart", "new-graphiste", "Aubervilliers", clock())
        clock.advance(MINUTE)
        assert await node.saved_searches.run_due() == 1
        assert await node.saved_searches.run_due() == 0
        assert await node.mail.run_due() == 0  # daily by default: nothing at once
        assert await node.notifications.run_digests() == 1
        assert await node.mail.run_due() == 1
        [mail] = await catcher.wait_for(1)
        text = text_of(mail)
        assert "Nouveaux résultats de vos recherches enregistrées" in text
        assert "Nouveau pour votre recherche enregistrée « graphiste » : Membre new-graphiste" in text
    finally:
        await node.close()
