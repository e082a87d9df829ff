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
from node.compose import Node, open_node
from node.config import create_node_dir, load_config
from node.demo.mail_catcher import CatcherThread
from node.demo.mentoring import seed_chillies, seed_education
from node.demo.seed import (
    MEMBER_COLUMNS,
    generate_events,
    generate_help_requests,
    generate_members,
    generate_mentoring,
    generate_offers,
)
from node.demo.spaces import publish_point_carre
from node.federation_adapter.network_file import load_network as load_network_file
from node.services.members_csv import import_members
from node.services.things import KINDS

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
    database_url: str | None = None  # default: a SQLite file in the folder


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
        node.directory,
        name=node.name,
        url=node.url,
        display_name=node.display_name,
        port=node.port,
        database_url=node.database_url,
    )
    opened = await open_node(config)
    try:
        await opened.identity.ensure_document()
        await _seed(opened, node, members, random.Random(f"{seed}-{node.name}"))
    finally:
        await opened.close()


async def _seed(s: Node, node: DemoNode, count: int, rng: random.Random) -> None:
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
    viewers = await s.accounts.viewers_with_profiles()
    for email, viewer in viewers.items():
        if viewer.role != "member" or (rng.random() < 0.1 and email != node.member):
            continue
        shared = {f: "network" for f in ("display_name", "trades", "skills", "languages", "place", "stage")}
        shared.update({f: "network" for f in ("bio", "availability", "coop_status") if rng.random() < 0.7})
        if rng.random() < 0.4:
            shared.update({"display_name": "public", "trades": "public", "place": "public"})
        await s.directory.update_my_profile(viewer, {"visibility": shared}, replace=False)
    # mentoring and education (issue 16): the cohort's mentees, the schools' requests, a student project
    await seed_education(s, node, rows, tokens, viewers.get(f"conseil@{node.name}.example"))
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
    if node.name == "coopaname":  # Point Carré, the coworking and FabLab Coopaname co-founded
        operator = viewers.get(node.operator)
        if operator is not None:
            await publish_point_carre(s, operator)
    log.info("demo %s seeded: %d members", node.name, len(rows))


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
    node = await open_node(load_config(directory))
    try:
        return await load_network_file(node.federation_store, directory, network)
    finally:
        await node.close()


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
    # the coops' mails (invitations, password resets, notifications) go to a local mail catcher: .eml files in
    # data/mail, so "forgot my password" works on the demo's logins without a mail server
    catcher = CatcherThread(data / "mail").start()
    env = {
        **os.environ,
        "BIGRE_ANTI_ENTROPY_SECONDS": os.environ.get("BIGRE_ANTI_ENTROPY_SECONDS", "10"),
        "BIGRE_SMTP_HOST": "127.0.0.1",
        "BIGRE_SMTP_PORT": str(catcher.port),
        "BIGRE_SMTP_SECURITY": "none",
        "BIGRE_MAIL_SECONDS": os.environ.get("BIGRE_MAIL_SECONDS", "2"),
    }
    children = [
        subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
            [sys.executable, "-m", "node.cli", "serve", str(n.directory), "--port", str(n.port)],
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
        print("Waiting for the three coops to hold each other's records...", flush=True)
        _wait_converged([n.url for n in nodes], children)
        try:
            if seed_chillies(nodes):
                print("Mentoring: the Chillies 2027 cohort is paired across the three coops.", flush=True)
        except (OSError, RuntimeError) as exc:  # the demo still runs; its log says what was missing
            print(f"warning: the mentoring cohort could not be prepared ({exc})", flush=True)
        print("\nBigre demo network is up:\n")
        for node in nodes:
            print(f"  {node.display_name:<10} {node.url}   operator {node.operator} / member {node.member}")
        print("  advisors: conseil@<coop>.example (e.g. conseil@coopaname.example)")
        print("  mentoring: /mentoring/programmes   schools' requests (advisors): /coordination/schools")
        print("  teachers' public form: /schools   a student project on the advisors' board: /advisor/cases")
        print(f"\n  password for each demo login: demo-<coop>-2027 (e.g. {nodes[0].password})")
        print(f"  mails the coops send (invitations, password resets, notifications): {catcher.folder}")
        print(f"    one .eml file per mail (open it with any mail program); SMTP catcher on 127.0.0.1:{catcher.port}")
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
        catcher.stop()
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed and not stopping else 0


def _heads(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/api/v1/health", timeout=5) as response:  # noqa: S310 - loopback
        heads: dict[str, int] = json.loads(response.read())["heads"]
        return heads


def _wait_converged(urls: list[str], children: list[subprocess.Popen[bytes]], within: float = 120.0) -> None:
    """Until every node holds every node's log as far as its origin has it (the same heads everywhere)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            raise SystemExit("a demo node exited during start-up; see its log above")
        with contextlib.suppress(OSError, ValueError, KeyError):
            heads = [_heads(url) for url in urls]
            if len(heads[0]) >= len(urls) and all(h == heads[0] for h in heads):
                return
        time.sleep(0.3)
    print("warning: the nodes have not converged yet; they go on syncing in the background", flush=True)


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
