"""Private messages between members of two coops, through real node processes."""

from __future__ import annotations

from .cluster import Cluster, eventually


def test_a_private_message_lands_in_the_recipients_inbox_and_nowhere_else(cluster: Cluster) -> None:
    cluster.build()
    cluster.start()
    heads = cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    recipient = smart.member_id()
    sender = coopaname.member_id()
    # every request reaching SMart arrives twice: the copy is refused as a replay, the message is stored once
    smart.proxy.set(duplicate=1.0)
    text = "Bonjour ! Votre offre de reliure m'intéresse : on s'appelle ? (code ocelotl-77)"
    answer = coopaname.api(
        "POST",
        "/api/v1/messages",
        {"to_node": "smart", "to_member": recipient, "subject": "Reliure", "text": text},
        token=coopaname.login(),
    )
    assert answer.status == 202, answer.body
    message_id = answer.json()["id"]

    def inbox() -> list[dict[str, object]]:
        got = smart.api("GET", "/api/v1/inbox", token=smart.login())
        assert got.status == 200
        return list(got.json()["messages"])

    messages = eventually(inbox, 20, what="message in the recipient's inbox")
    assert len(messages) == 1
    assert messages[0]["id"] == f"coopaname/{message_id}"
    assert (messages[0]["from_node"], messages[0]["from_member"], messages[0]["text"]) == ("coopaname", sender, text)
    eventually(lambda: smart.proxy.stats().get("duplicated", 0) >= 1, 10, what="a duplicated delivery")
    eventually(lambda: coopaname.sql("SELECT count(*) FROM outbox WHERE kind='message'") == [(0,)], 20)
    smart.proxy.clear()
    assert len(inbox()) == 1

    # nowhere else: no other inbox, no log, no record, on any node; and no node's heads moved
    assert smart.sql("SELECT count(*) FROM inbox_messages") == [(1,)]
    for node in (coopaname, oxalis):
        assert node.sql("SELECT count(*) FROM inbox_messages") == [(0,)]
        assert node.api("GET", "/api/v1/inbox", token=node.login()).json()["messages"] == []
    for node in (coopaname, smart, oxalis):
        assert not node.sql("SELECT 1 FROM entries WHERE type='message' OR record_id=?", [message_id])
        assert not node.sql("SELECT 1 FROM entries WHERE instr(body, CAST('ocelotl' AS BLOB)) > 0")
        assert not node.sql("SELECT 1 FROM records WHERE record_id=?", [message_id])
        assert node.heads() == heads
    # on the wire, only SMart was sent a message
    assert smart.proxy.stats().get("path /federation/v1/direct", 0) >= 1
    assert "path /federation/v1/direct" not in coopaname.proxy.stats()
    assert "path /federation/v1/direct" not in oxalis.proxy.stats()
    assert oxalis.proxy.stats().get("path /federation/v1/heads", 0) > 0  # while the rest of the traffic flowed
    # and in SMart, only the recipient's account holds it
    rows = smart.sql("SELECT a.email FROM inbox_messages m JOIN accounts a ON a.id = m.account_id")
    assert rows == [(smart.member,)]
