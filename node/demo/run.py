"""The network demo: Coopaname, SMart and Oxalis as three real node processes on loopback, peered and seeded.

``bigre demo`` creates (or reuses) one folder per coop under ``--data``, seeds each with hundreds of realistic
members across many trades and Île-de-France towns (most of them sharing part of their profile with the
network), offers and requests, mentoring, events and help requests, writes the shared network file, peers
the three nodes from it, and then runs ``bigre serve`` for each as a child process until interrupted.
Seeding goes through the same services as the API, so every shared record is a signed entry in its coop's log;
the nodes exchange them by the ordinary replication as soon as they start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.governance import DEFAULT_CHARTER
from federation.ports import Peer, PeerKey
from node.config import create_node_dir, load_config
from node.demo.seed import (
    MEMBER_COLUMNS,
    generate_events,
    generate_help_requests,
    generate_members,
    generate_mentoring,
    generate_offers,
)
from node.federation_adapter.store import NodeFederationStore
from node.federation_adapter.wiring import ensure_node_document
from node.http.app import federated_options, open_services
from node.http.governance import save_charter
from node.http.state import NodeServices
from node.services.members_csv import import_members
from node.services.things import KINDS
from node.viewer import Viewer

log = logging.getLogger(__name__)

COOPS: tuple[tuple[str, str], ...] = (("coopaname", "Coopaname"), ("smart", "SMart"), ("oxalis", "Oxalis"))


@dataclass(frozen=True, slots=True)
class DemoNode:
    name: str
    display_name: str
    directory: Path
    url: str
    port: int
    operator: str
    member: str
    password: str


def plan(data: Path, base_port: int) -> list[DemoNode]:
    return [
        DemoNode(
            name=name,
            display_name=display,
            directory=data / name,
            url=f"http://127.0.0.1:{base_port + i}",
            port=base_port + i,
            operator=f"operateur@{name}.example",
            member=f"membre@{name}.example",
            password=f"demo-{name}-2027",
        )
        for i, (name, display) in enumerate(COOPS)
    ]


async def seed_node(node: DemoNode, members: int, seed: int) -> None:
    """Create the node folder if needed and fill it; a folder that exists is kept as it is."""
    if (node.directory / "node.json").exists():
        return
    config = create_node_dir(
        node.directory, name=node.name, url=node.url, display_name=node.display_name, port=node.port
    )
    services = await open_services(config, federated_options(config))
    try:
        await ensure_node_document(services)
        await _seed(services, node, members, random.Random(f"{seed}-{node.name}"))
    finally:
        await services.db.close()


async def _seed(s: NodeServices, node: DemoNode, count: int, rng: random.Random) -> None:
    rows = generate_members(node.name, count, rng)
    rows.append(
        {
            **rows[2],
            "email": node.member,
            "display_name": f"Camille Demo ({node.display_name})",
            "role": "member",
        }
    )
    csv_text = _csv(rows)
    report = await import_members(s, csv_text.encode("utf-8"))
    if report.errors:
        log.warning("demo %s: %d rows refused: %s", node.name, len(report.errors), report.errors[:3])
    tokens = dict(report.invitations)
    for email in (node.operator, node.member, f"conseil@{node.name}.example"):  # the advisor too (onboarding)
        await s.accounts.accept_invitation(tokens[email], node.password)
    # Most members share their professional fields with the network, some make a few public.
    viewers = await _viewers(s)
    for email, viewer in viewers.items():
        if viewer.role != "member" or (rng.random() < 0.1 and email != node.member):
            continue
        shared = {f: "network" for f in ("display_name", "trades", "skills", "languages", "place", "stage")}
        shared.update({f: "network" for f in ("bio", "availability", "coop_status") if rng.random() < 0.7})
        if rng.random() < 0.4:
            shared.update({"display_name": "public", "trades": "public", "place": "public"})
        await s.directory.update_my_profile(viewer, {"visibility": shared}, replace=False)
    ids = {email: v.member_id for email, v in viewers.items()}
    authors = [r for r in rows if r["role"] == "member"]
    for kind, bodies in (
        ("offers", generate_offers(authors, rng, max(10, count // 4))),
        ("mentoring", generate_mentoring(authors, rng, max(6, count // 10))),
        ("events", generate_events(authors, rng, max(5, count // 20))),
        ("help-requests", generate_help_requests(authors, rng, max(5, count // 15))),
    ):
        for body in bodies:
            author = viewers.get(str(body.get("author_email")))
            if author is None or ids.get(author.email or "") is None:
                continue
            payload = {k: v for k, v in body.items() if k in KINDS[kind].inputs}
            if kind in ("offers", "events"):
                payload["visibility"] = "network" if rng.random() < 0.6 else "public"
            await s.things.create(KINDS[kind], author, payload)
    log.info("demo %s seeded: %d members", node.name, len(rows))


async def _viewers(s: NodeServices) -> dict[str, Viewer]:
    from sqlalchemy import select

    from node.storage.models import Account, MemberProfile

    async with s.db.read() as session:
        rows = await session.execute(
            select(Account.id, Account.role, Account.email, MemberProfile.record_id).join(
                MemberProfile, MemberProfile.account_id == Account.id
            )
        )
        return {email: Viewer(account_id=aid, role=role, member_id=rid, email=email) for aid, role, email, rid in rows}


def _csv(rows: list[dict[str, str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(MEMBER_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def network_file(nodes: list[DemoNode]) -> dict[str, Any]:
    entries = []
    for node in nodes:
        key = load_config(node.directory).signing_key()
        entries.append(
            {
                "name": node.name,
                "url": node.url,
                "display_name": node.display_name,
                "public_key": key.public_bytes.hex(),
            }
        )
    return {"network": "bigre-demo", "charter": dict(DEFAULT_CHARTER), "nodes": entries}


async def load_network(directory: Path, network: dict[str, Any]) -> int:
    """Make every node of ``network`` (the shared file) a direct peer of the node in ``directory``."""
    config = load_config(directory)
    if isinstance(network.get("charter"), dict):
        save_charter(directory, network["charter"])
    services = await open_services(config, federated_options(config))
    try:
        store = NodeFederationStore(services.db, config.name, services.clock, services.search_documents)
        count = 0
        for item in network["nodes"]:
            if item["name"] == config.name:
                continue
            await store.save_peer(
                Peer(
                    name=item["name"],
                    url=str(item["url"]).rstrip("/"),
                    display_name=item.get("display_name", item["name"]),
                    keys=[PeerKey(bytes.fromhex(item["public_key"]))],
                )
            )
            count += 1
        return count
    finally:
        await services.db.close()


def run_demo(data: Path, base_port: int, members: int, seed: int = 2027) -> int:
    nodes = plan(data, base_port)
    data.mkdir(parents=True, exist_ok=True)
    print(f"Preparing the demo network in {data} (first run: seeding {members} members per coop)...", flush=True)
    for node in nodes:
        asyncio.run(seed_node(node, members, seed))
    network = network_file(nodes)
    (data / "network.json").write_text(json.dumps(network, indent=2) + "\n", encoding="utf-8")
    for node in nodes:
        asyncio.run(load_network(node.directory, network))
    env = {**os.environ, "BIGRE_ANTI_ENTROPY_SECONDS": os.environ.get("BIGRE_ANTI_ENTROPY_SECONDS", "10")}
    children = [
        subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [sys.executable, "-m", "node.cli.commands", "serve", str(n.directory), "--port", str(n.port)],
            env=env,
        )
        for n in nodes
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        for node in nodes:
            _wait_healthy(node.url, children)
        print("\nBigre demo network is up:\n")
        for node in nodes:
            print(f"  {node.display_name:<10} {node.url}   operator {node.operator} / member {node.member}")
        print("  advisors: conseil@<coop>.example (e.g. conseil@coopaname.example)")
        print(f"\n  password for each demo login: demo-<coop>-2027 (e.g. {nodes[0].password})")
        print(f"  network file: {data / 'network.json'}   stop with Ctrl-C\n", flush=True)
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed and not stopping else 0


def _wait_healthy(url: str, children: list[subprocess.Popen[bytes]], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            raise SystemExit("a demo node exited during start-up; see its log above")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url + "/api/v1/health", timeout=2) as response,  # noqa: S310 - loopback
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {within:.0f} s")
