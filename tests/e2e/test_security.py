"""Refusals and forks against real node processes.

Requests are forged in the test the way a peer (or an intruder) would send them: signed with
``protocol.sign_request`` and a node's own key read from its folder, entries signed with ``protocol.sign_entry``.
Every refusal is checked three ways: the HTTP status and error code, a log line of the receiving node giving the
reason (the same text as the answer's message), and nothing changed (the receiver's heads with their hashes and
its whole log are as before).
"""

from __future__ import annotations

import contextlib
import http.client
import secrets
import sqlite3
from collections import Counter

import msgpack

from protocol import SigningKey, canonical, decode_entry, sign_request

from .cluster import Answer, Cluster, Node, call, eventually, next_entry, now_ms, rotate_and_revoke

PUSH = "/federation/v1/push"
HEADS = "/federation/v1/heads"


class Refusals:
    """Checks that each answer is a refusal, logged with its reason by the receiver."""

    def __init__(self, receiver: Node) -> None:
        self.receiver = receiver
        self.checked = 0
        self.expected: Counter[str] = Counter()

    def expect(self, answer: Answer, status: int, code: str, *, path: str = PUSH, origin: str = "coopaname") -> None:
        assert (answer.status, answer.error_code()) == (status, code), (answer.status, answer.body[:400])
        message = answer.error_message()
        assert message
        # "refused POST /federation/v1/push from coopaname (127.0.0.1): <the reason, as answered>", once more
        needles = ("refused", f" {path} from {origin} ", f": {message}")
        self.expected[" ".join(needles)] += 1
        wanted = self.expected[" ".join(needles)]

        def logged() -> bool:
            lines = self.receiver.log_text().splitlines()
            return sum(all(n in line for n in needles) for line in lines) >= wanted

        eventually(logged, 15, 0.05, what=f"log line {needles} x{wanted} on {self.receiver.name}")
        self.checked += 1


def tampered(blob: bytes, field: str) -> bytes:
    """The entry with one byte of its signature (``s``) or body (``b``) changed."""
    value = canonical.decode(blob)
    assert isinstance(value, dict)
    raw = value[field]
    assert isinstance(raw, bytes)
    value[field] = raw[:-1] + bytes([raw[-1] ^ 1])
    return canonical.encode(value)


def oversized_request(node: Node, sender: Node) -> Answer:
    """A push announcing a 9 MiB body (over the 8 MiB limit); only its first 64 KiB are sent."""
    headers = sign_request(
        sender.key(),
        method="POST",
        path=PUSH,
        origin=sender.name,
        destination=node.name,
        time=now_ms(),
        nonce=secrets.token_urlsafe(18),
        body=b"",
    )
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=20)
    try:
        conn.putrequest("POST", PUSH)
        for k, v in {**headers, "Content-Type": "application/x-bigre+msgpack", "Content-Length": "9437184"}.items():
            conn.putheader(k, v)
        conn.endheaders()
        with contextlib.suppress(OSError):  # the node may answer and close before reading all of it
            conn.send(b"\x00" * 65_536)
        response = conn.getresponse()
        return Answer(response.status, response.read())
    finally:
        conn.close()


def test_forged_replayed_stale_oversized_malformed_and_revoked_are_refused(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    check = Refusals(smart)
    before_heads = smart.federation_heads("oxalis")
    before_log = smart.logs()
    head = before_heads["coopaname"]
    key = coopaname.key()
    intruder = SigningKey.generate()
    profile = {"display_name": "Faux profil", "public": []}

    def entry(signing: SigningKey = key, origin: str = "coopaname", **kw: object) -> bytes:
        after = before_heads[origin]
        return next_entry(signing, origin=origin, after=after, record_id="forged-1", body=profile, **kw)  # type: ignore[arg-type]

    # forged signatures: an entry signed by a key that is not Coopaname's, or Coopaname's entry with its
    # signature or its body altered; a request whose signature is not by the key it names
    check.expect(smart.signed("coopaname", "POST", PUSH, [entry(intruder)]), 401, "unknown_key")
    check.expect(smart.signed("coopaname", "POST", PUSH, [tampered(entry(), "s")]), 401, "bad_signature")
    check.expect(smart.signed("coopaname", "POST", PUSH, [tampered(entry(), "b")]), 400, "body_mismatch")
    forged_headers = {"Bigre-Key": key.kid}
    answer = smart.signed("coopaname", "POST", PUSH, [entry()], key=intruder, headers=forged_headers)
    check.expect(answer, 401, "bad_signature")
    # a record claiming another origin: Coopaname signs an entry of Oxalis; and a node of no network at all
    check.expect(smart.signed("coopaname", "POST", PUSH, [entry(origin="oxalis")]), 401, "unknown_key")
    mixed = [entry(), next_entry(key, origin="oxalis", after=head, record_id="x", body=profile)]
    check.expect(smart.signed("coopaname", "POST", PUSH, mixed), 400, "malformed")
    answer = smart.signed("intrus", "POST", PUSH, [entry(intruder, origin="coopaname")], key=intruder)
    check.expect(answer, 403, "unknown_peer", origin="intrus")
    # a replayed request: the same signed request again (here a harmless heads request, accepted once)
    nonce = secrets.token_urlsafe(18)
    assert smart.signed("coopaname", "GET", HEADS, nonce=nonce).status == 200
    check.expect(smart.signed("coopaname", "GET", HEADS, nonce=nonce), 409, "replayed", path=HEADS)
    # stale dates, past and future (the window is 5 minutes)
    check.expect(smart.signed("coopaname", "POST", PUSH, [entry()], time_ms=now_ms() - 400_000), 401, "stale")
    check.expect(smart.signed("coopaname", "POST", PUSH, [entry()], time_ms=now_ms() + 400_000), 401, "stale")
    # a body that is not what was signed
    answer = smart.signed("coopaname", "POST", PUSH, [entry()], raw=canonical.encode([entry(intruder)]))
    check.expect(answer, 400, "body_mismatch")
    # oversized: a request over 8 MiB, an entry over 64 KiB
    check.expect(oversized_request(smart, coopaname), 413, "too_large")
    check.expect(signed_raw(smart, coopaname, msgpack.packb([b"\x80" * 70_000])), 413, "too_large")
    # malformed: not msgpack, msgpack but not canonical, not an array of entries, an entry that is not one,
    # and no signature at all
    for payload, code in (
        (b"\xc1\xc1\xc1", "malformed"),
        (b"\xd0\x01", "non_canonical"),
        ({"entries": []}, "malformed"),
        ([], "malformed"),
        ([b"not an entry"], "malformed"),
    ):
        if isinstance(payload, bytes):
            answer = signed_raw(smart, coopaname, payload)
        else:
            answer = smart.signed("coopaname", "POST", PUSH, payload)
        check.expect(answer, 400, code)
    answer = smart.api("GET", HEADS)
    assert (answer.status, answer.error_code()) == (400, "malformed")
    smart.wait_log("refused GET /federation/v1/heads from ?")

    # nothing changed: same heads (with their hashes), same log, entry for entry
    assert smart.federation_heads("oxalis") == before_heads
    assert smart.logs() == before_log
    assert check.checked == 18

    # Records from a revoked key. Coopaname's key is stolen: its operator rotates (a node document signed by the
    # old key adds a new one, a revocation signed by the new key revokes the old), and the network learns it by
    # ordinary replication.
    coopaname.stop()
    old, new, revoked_at = rotate_and_revoke(coopaname)
    coopaname.start()
    coopaname.wait_healthy()
    heads = cluster.wait_converged()
    assert heads["coopaname"] == head[0] + 3  # the document, the revocation, the document with only the new key
    after = smart.federation_heads("oxalis")["coopaname"]
    stolen = next_entry(old, origin="coopaname", after=after, record_id="stolen-1", body=profile)
    assert decode_entry(stolen).header.ts >= revoked_at
    check = Refusals(smart)
    # the thief signs a request with the stolen key: refused
    check.expect(smart.signed("coopaname", "POST", PUSH, [stolen], key=old), 401, "key_not_valid")
    # an honest peer relays the thief's entry: refused too, because the entry's key is revoked
    check.expect(smart.signed("oxalis", "POST", PUSH, [stolen]), 401, "key_not_valid", origin="oxalis")
    # the same, dated just before the revocation: the key stops at the revocation's seq, whatever the date says
    backdated = next_entry(old, origin="coopaname", after=after, record_id="stolen-2", body=profile, ts=revoked_at - 1)
    check.expect(smart.signed("oxalis", "POST", PUSH, [backdated]), 401, "key_not_valid", origin="oxalis")
    assert "signs nothing after seq" in smart.signed("oxalis", "POST", PUSH, [backdated]).error_message()
    # and the real Coopaname, with its new key, still gets through
    assert smart.signed("coopaname", "GET", HEADS, key=new).status == 200
    assert smart.federation_heads("oxalis")["coopaname"] == after
    cluster.wait_converged()
    assert all(n.forks() == [] for n in (coopaname, smart, oxalis))


def signed_raw(receiver: Node, sender: Node, body: bytes) -> Answer:
    """A correctly signed push whose body is ``body`` as is (not an encoding of anything)."""
    headers = sign_request(
        sender.key(),
        method="POST",
        path=PUSH,
        origin=sender.name,
        destination=receiver.name,
        time=now_ms(),
        nonce=secrets.token_urlsafe(18),
        body=body,
    )
    headers["Content-Type"] = "application/x-bigre+msgpack"
    return call(receiver.port, "POST", PUSH, body, headers)


def test_a_fork_is_detected_kept_out_and_shown_to_operators(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    head = smart.federation_heads("oxalis")["coopaname"]
    key = coopaname.key()
    # Coopaname (its own key, from its folder) signs two different entries for the same seq.
    one = next_entry(key, origin="coopaname", after=head, record_id="fork-1", body={"display_name": "Version A"})
    two = next_entry(key, origin="coopaname", after=head, record_id="fork-1", body={"display_name": "Version B"})
    seq = head[0] + 1
    # one version to SMart, the other to Oxalis
    for node, blob in ((smart, one), (oxalis, two)):
        answer = node.signed("coopaname", "POST", PUSH, [blob])
        assert answer.status == 200 and canonical.decode(answer.body) == {"head": seq}, answer.body

    # they meet by anti-entropy: each detects the fork, keeps its first version and refuses the other
    for node in (smart, oxalis):
        forks = eventually(node.forks, 30, what=f"fork reported on {node.name}")
        assert [(f["origin"], f["seq"]) for f in forks] == [("coopaname", seq)]
        assert forks[0]["reported_by"] in {"smart", "oxalis"} - {node.name}
        node.wait_log("FORK: origin coopaname signed two entries for seq", str(seq))
    # a direct push of the other version is refused as a fork
    answer = smart.signed("coopaname", "POST", PUSH, [two])
    assert (answer.status, answer.error_code()) == (409, "fork"), answer.body
    # several more rounds of anti-entropy later, each still holds its first version only
    since = smart.peers()["oxalis"]["last_success"] or 0
    eventually(lambda: (smart.peers()["oxalis"]["last_success"] or 0) > since + 2500, 30, what="more rounds")
    assert smart.log_of("coopaname")[-1] == (seq, decode_entry(one).hash)
    assert oxalis.log_of("coopaname")[-1] == (seq, decode_entry(two).hash)
    assert smart.heads()["coopaname"] == oxalis.heads()["coopaname"] == seq
    assert {(f["origin"], f["seq"]) for f in smart.forks()} == {("coopaname", seq)}
    # the fork list is for operators only
    answer = smart.api("GET", "/api/v1/federation/forks", token=smart.login())
    assert answer.status == 403


def test_a_revocation_survives_a_crash_between_storing_it_and_saving_the_peer(cluster: Cluster) -> None:
    cluster.build(names=("coopaname", "smart"))
    cluster.start()
    cluster.wait_converged()
    coopaname, smart = cluster["coopaname"], cluster["smart"]
    keys_before = smart.sql("SELECT keys FROM peers WHERE name='coopaname'")[0][0]
    coopaname.stop()
    old, _, _ = rotate_and_revoke(coopaname)
    coopaname.start()
    coopaname.wait_healthy()
    cluster.wait_converged()
    # SMart crashes; the state a crash right after storing the run leaves: the entries with the new document and
    # the revocation are in its log, its peers row still has the keys from before (written the way it was)
    smart.kill()
    conn = sqlite3.connect(smart.database)
    with conn:
        conn.execute("UPDATE peers SET keys=? WHERE name='coopaname'", [keys_before])
    conn.close()
    smart.start()
    smart.wait_healthy()
    after = smart.stored_heads()["coopaname"]
    stolen = next_entry(old, origin="coopaname", after=after, record_id="stolen-1", body={"display_name": "X"})
    answer = smart.signed("coopaname", "POST", PUSH, [stolen], key=old)
    assert (answer.status, answer.error_code()) == (401, "key_not_valid"), answer.body
    assert smart.stored_heads()["coopaname"] == after
