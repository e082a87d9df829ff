"""A node restored from an old backup, or one that lost its last writes, never forks itself (issue 12, item 10;
issue 13, item 12): before it signs anything new it takes back from its peers what they hold of its own log,
verified; then it publishes normally and its peers take what it publishes. Real node processes, real CLI."""

from __future__ import annotations

import functools
import json
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

from .cluster import REPO, Cluster, Node, eventually


def bigre(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def holds(node: Node, seq: int) -> bool:
    return node.heads().get("coopaname") == seq


def offer_when_allowed(node: Node, title: str) -> str:
    """Create an offer, retrying while the node says it is still checking its log with its peers (503)."""

    def attempt() -> str | None:
        answer = node.api(
            "POST", "/api/v1/offers", {"purpose": "offer", "title": title, "visibility": "network"}, token=node.login()
        )
        if answer.status == 503:
            assert answer.error_code() == "unavailable", answer.body
            return None
        assert answer.status == 201, (answer.status, answer.body[:300])
        return str(answer.json()["id"])

    return eventually(attempt, 60, 0.2, f"an offer accepted by {node.name}")


def assert_no_fork_and_took_back(cluster: Cluster, before: list[tuple[int, bytes]], node: Node) -> None:
    """Converged, no fork anywhere, and the node's own log extends what its peers held of it before: every entry
    it had published (and lost) is there, unchanged, at its seq."""
    cluster.wait_converged(within=90)
    for n in cluster.running():
        assert n.forks() == [], (n.name, n.forks())
        assert "FORK" not in n.log_text(), n.name
    assert node.log_of(node.name)[: len(before)] == before


def test_restoring_an_old_backup_takes_back_the_tail_from_peers_before_signing(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]

    # an online backup, taken while the node serves and writes
    archive = tmp_path / "backups" / "coopaname.tar.gz"
    written: list[str] = []
    errors: list[BaseException] = []
    coopaname.login()  # the token, before the thread uses it

    def write() -> None:
        try:
            written.extend(coopaname.create_offer(f"Pendant la sauvegarde {i}") for i in range(4))
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    out = bigre("backup", str(coopaname.directory), str(archive)).stdout
    writer.join()
    assert not errors and len(written) == 4, errors
    assert "copied online" in out
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("bigre-backup.json").read())  # type: ignore[union-attr]
    at_backup = manifest["heads"]["coopaname"]
    assert at_backup >= 1

    # after the backup: several records, held by the peers
    after = [coopaname.create_offer(f"Après la sauvegarde {word}") for word in ("xochimilco", "tenochtitlan", "tula")]
    coopaname.update_offer(after[0], title="Après la sauvegarde xochimilco (complet)")
    head = coopaname.heads()["coopaname"]
    assert head >= at_backup + 4
    for node in (smart, oxalis):
        eventually(functools.partial(holds, node, head), 30, what=f"{node.name} holds coopaname")
    before = smart.log_of("coopaname")

    # the operator restores the backup (node stopped) and starts the node again
    coopaname.stop()
    restored = bigre("restore", str(archive), str(coopaname.directory), "--replace").stdout
    assert f"coopaname={at_backup}" in restored and "before-restore" in restored
    assert coopaname.stored_heads()["coopaname"][0] == at_backup
    coopaname.start()
    coopaname.wait_healthy()
    new = offer_when_allowed(coopaname, "Réparation de vélos mixcoatl")
    coopaname.wait_log("holds our own log up to seq", "taking the missing entries back")
    assert_no_fork_and_took_back(cluster, before, coopaname)
    assert coopaname.heads()["coopaname"] > head  # the new record came after the tail it took back
    for node in (coopaname, smart, oxalis):
        node.wait_found("tenochtitlan", ("offer", "coopaname", after[1]))
    for node in (smart, oxalis):
        node.wait_found("mixcoatl", ("offer", "coopaname", new))
    # and the node goes on publishing normally
    later = coopaname.create_offer("Cours de poterie quetzal")
    for node in (smart, oxalis):
        node.wait_found("poterie", ("offer", "coopaname", later))
    assert all(n.forks() == [] for n in (coopaname, smart, oxalis))


def test_a_node_that_lost_its_last_writes_takes_them_back(cluster: Cluster) -> None:
    cluster.build(members=4)
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]
    # a copy of the database as it is on disk at some point (node stopped: a consistent file)
    coopaname.stop()
    saved = coopaname.directory.parent / "coopaname-disk.sqlite3"
    shutil.copyfile(coopaname.database, saved)
    assert not Path(f"{coopaname.database}-wal").exists() or Path(f"{coopaname.database}-wal").stat().st_size == 0
    coopaname.start()
    coopaname.wait_healthy()
    lost = [coopaname.create_offer(f"Écriture perdue {word}") for word in ("cuauhtemoc", "moctezuma")]
    head = coopaname.heads()["coopaname"]
    for node in (smart, oxalis):
        eventually(functools.partial(holds, node, head), 30, what=f"{node.name} holds coopaname")
    before = smart.log_of("coopaname")
    # power loss: the last commits never reached the disk
    coopaname.kill(signal.SIGKILL)
    for suffix in ("-wal", "-shm"):
        Path(f"{coopaname.database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(saved, coopaname.database)
    assert coopaname.stored_heads()["coopaname"][0] < head
    coopaname.start()
    coopaname.wait_healthy()
    new = offer_when_allowed(coopaname, "Atelier après la panne tlaloc")
    assert_no_fork_and_took_back(cluster, before, coopaname)
    for node in (smart, oxalis):
        node.wait_found("tlaloc", ("offer", "coopaname", new))
    coopaname.wait_found("moctezuma", ("offer", "coopaname", lost[1]))
