"""CLI commands for federation: ``bigre peers ...``, ``bigre apply`` and ``bigre demo``. Thin: parse, call, print,
exit code. They speak to other nodes through the federation's own client (:mod:`federation.joining`)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from federation import joining
from federation.errors import FederationError
from federation.ports import PeerHealth
from federation.trust import TrustStore
from node.cli.commands import opened
from node.clock import utc_datetime
from node.compose import Node
from node.config import load_config
from node.demo.run import run_demo
from node.federation_adapter.network_file import load_network
from node.services.governance import load_charter
from protocol.governance import check_certificate

T = TypeVar("T")


def _run(directory: str, fn: Callable[[Node], Awaitable[T]]) -> T:
    """Run ``fn`` on the folder's node, opened (not started) and closed again."""

    async def go() -> T:
        async with opened(directory) as node:
            return await fn(node)

    return asyncio.run(go())


def cmd_peers_invite(args: argparse.Namespace) -> int:
    async def invite(node: Node) -> str:
        return await node.federation_store.create_invitation(int(args.hours * 3_600_000))

    token = _run(args.dir, invite)
    url = load_config(Path(args.dir)).url
    print("Give the other node's operator this command (valid for", args.hours, "hours, once):")
    print(f"  bigre peers join NODE_DIR {url} {token}")
    return 0


def cmd_peers_join(args: argparse.Namespace) -> int:
    async def join(node: Node) -> str:
        await node.identity.ensure_document()
        async with aiohttp.ClientSession() as http:
            peer = await joining.join(http, args.url, args.token, await node.federation_store.own_document())
        await node.federation_store.save_peer(peer)
        return f"{peer.name} ({peer.url})"

    try:
        joined = _run(args.dir, join)
    except FederationError as exc:
        print(f"error: {exc}")
        return 1
    print(f"peered with {joined}; the nodes synchronise as soon as both run")
    return 0


def cmd_peers_load(args: argparse.Namespace) -> int:
    try:
        network = json.loads(Path(args.file).read_text(encoding="utf-8"))
        count = _run(args.dir, lambda node: load_network(node.federation_store, node.config.directory, network))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot load the network file {args.file}: {exc}")
        return 1
    print(f"{count} peers loaded from {args.file}")
    return 0


def cmd_peers_list(args: argparse.Namespace) -> int:
    async def listing(node: Node) -> tuple[list[PeerHealth], list[dict[str, Any]], int]:
        store = node.federation_store
        return list(await store.health()), await store.forks(), node.clock()

    rows, forks, now = _run(args.dir, listing)
    forked = {f["origin"] for f in forks}
    if args.json:
        print(json.dumps({"peers": [dataclasses.asdict(r) for r in rows], "forks": forks}, indent=2))
        return 0
    print(f"{'peer':<16} {'status':<10} {'queue':>5} {'lag':>5}  {'last success':<28} last error")
    for r in rows:
        error = "-" if r.last_error is None else f"{_when(r.last_error_at, now)}: {r.last_error[:60]}"
        print(f"{r.name:<16} {r.status:<10} {r.queue_depth:>5} {r.lag:>5}  {_when(r.last_success, now):<28} {error}")
    for f in forks:
        print(
            f"FORK: {f['origin']} signed two entries for seq {f['seq']} (reported by {f['reported_by']}, "
            f"{_when(f['at'], now)}); see docs/operators.md, 'A fork'"
        )
    if forked:
        return 4
    return 0


def _when(ms: int | None, now: int) -> str:
    """A node time as an operator reads it: ``2026-12-07 20:41 UTC (3 min ago)``."""
    if ms is None:
        return "never"
    at = utc_datetime(ms).strftime("%Y-%m-%d %H:%M UTC")
    seconds = max(0, (now - ms) // 1000)
    ago = (
        f"{seconds} s ago"
        if seconds < 120
        else f"{seconds // 60} min ago"
        if seconds < 7200
        else f"{seconds // 3600} h ago"
        if seconds < 172_800
        else f"{seconds // 86400} days ago"
    )
    return f"{at} ({ago})"


def cmd_apply(args: argparse.Namespace) -> int:
    """File the join request with the sponsor named in the bundle; with --wait, wait for the certificate."""
    directory = Path(args.dir)
    bundle_path = directory / "bundle.json"
    if not bundle_path.exists():
        print(f"error: {bundle_path} is missing: initialise the node with bigre init --bundle")
        return 1
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    sponsor_url = str(bundle["sponsor_url"]).rstrip("/")
    if not sponsor_url.startswith(("http://", "https://")):
        print(f"error: the bundle's sponsor_url {sponsor_url!r} is not an http(s) URL")
        return 1

    async def file_and_wait(node: Node) -> int:
        await node.identity.ensure_document()
        request: dict[str, Any] = {"node": await node.federation_store.own_document(), "sponsor": bundle["sponsor"]}
        for name in ("legal_name", "registry_number", "contact"):
            if getattr(args, name):
                request[name] = getattr(args, name)
        if bundle.get("case"):
            request["case"] = str(bundle["case"])
        async with aiohttp.ClientSession() as http:
            try:
                answer = await joining.apply(http, sponsor_url, request)
            except FederationError as exc:
                print(f"error: the sponsor did not take the request: {exc}")
                return 1
            ref = str(answer["proposal"])
            print(f"join request filed: admission proposal {ref} ({answer.get('result')!s})")
            if not args.wait:
                return 0
            deadline = time.monotonic() + args.wait
            found: bytes | None = None
            while found is None and time.monotonic() < deadline:
                try:
                    found = await joining.certificate(http, sponsor_url, ref)
                except FederationError as exc:
                    print(f"warning: {exc}")
                if found is None:
                    await asyncio.sleep(1)
        if found is None:
            print("not admitted yet; run again later")
            return 2
        trust = TrustStore(node.config.name)
        trust.load(await node.federation_store.list_peers())
        members = [p.name for p in trust.peers() if p.status == "member"]
        decision = check_certificate(
            found, keys=trust, members=members, charter=load_charter(node.config.directory), now=node.clock()
        )
        print(f"admitted: certificate checked here ({decision.tally.count('yes')} yes of {len(members)})")
        return 0

    return _run(args.dir, file_and_wait)


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(Path(args.data), args.base_port, args.members)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    peers = sub.add_parser("peers", help="connect this node to others", description="Manage this node's peers.")
    peers_sub = peers.add_subparsers(dest="peers_command", required=True, metavar="COMMAND")
    p = peers_sub.add_parser(
        "invite",
        help="create a one-time invitation for another node",
        description="Create a one-time invitation token and print the command the other operator runs.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("--hours", type=float, default=72.0, help="validity in hours (default 72)")
    p.set_defaults(func=cmd_peers_invite)
    p = peers_sub.add_parser(
        "join",
        help="peer with a node that invited this one",
        description="Present this node's signed document and the token to URL; store the inviter as a peer.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("url", help="the inviting node's base URL")
    p.add_argument("token", help="the invitation token")
    p.set_defaults(func=cmd_peers_join)
    p = peers_sub.add_parser(
        "load",
        help="add the nodes of a network file as peers",
        description="Add every node of a network file (name, url, public_key) as a direct peer.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("file", help="the network file (JSON)")
    p.set_defaults(func=cmd_peers_load)
    p = peers_sub.add_parser(
        "list", help="show peers and their health", description="Show peers with last success, lag, outbox depth."
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_peers_list)

    p = sub.add_parser(
        "apply",
        help="file this new node's join request with its sponsor",
        description="Send the join request to the sponsor named in bundle.json; --wait checks the certificate.",
    )
    p.add_argument("dir", help="the node folder (made with bigre init --bundle)")
    p.add_argument("--legal-name", dest="legal_name", help="the coop's legal name")
    p.add_argument("--registry-number", dest="registry_number", help="e.g. SIREN")
    p.add_argument("--contact", help="who to contact about the application")
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the admission certificate")
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser(
        "demo",
        help="run the three-coop demo network",
        description="Start Coopaname, SMart and Oxalis on ports P, P+1, P+2, peered and seeded; Ctrl-C stops.",
    )
    p.add_argument("--base-port", type=int, default=8400, help="port of the first node (default 8400)")
    p.add_argument("--data", default="demo-data", help="folder for the three nodes (default ./demo-data)")
    p.add_argument("--members", type=int, default=200, help="members per coop on first run (default 200)")
    p.set_defaults(func=cmd_demo)
