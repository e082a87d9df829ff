"""CLI commands for federation: ``bigre peers ...`` and ``bigre demo``. Thin: parse, call, print, exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from federation.errors import FederationError
from node.config import load_config
from node.federation_adapter.store import NodeFederationStore
from node.federation_adapter.wiring import ensure_node_document
from node.http.app import federated_options, open_services

SubParsers = "argparse._SubParsersAction[argparse.ArgumentParser]"


async def _with_store(directory: str, fn: Any) -> Any:
    config = load_config(Path(directory))
    services = await open_services(config, federated_options(config))
    try:
        store = NodeFederationStore(services.db, config.name, services.clock, services.search_documents)
        return await fn(services, store)
    finally:
        await services.db.close()


def cmd_peers_invite(args: argparse.Namespace) -> int:
    async def invite(services: Any, store: NodeFederationStore) -> str:
        token: str = await store.create_invitation(int(args.hours * 3_600_000))
        return token

    token = asyncio.run(_with_store(args.dir, invite))
    url = load_config(Path(args.dir)).url
    print("Give the other node's operator this command (valid for", args.hours, "hours, once):")
    print(f"  bigre peers join NODE_DIR {url} {token}")
    return 0


def cmd_peers_join(args: argparse.Namespace) -> int:
    from federation.service import FederationService

    async def join(services: Any, store: NodeFederationStore) -> str:
        await ensure_node_document(services)
        service = FederationService(
            name=services.config.name,
            key=lambda: services.key,
            log_store=store,
            peers=store,
            outbox=store,
            inbox=store,
            invitations=store,
            documents=store,
            clock=services.clock,
        )
        await service.start()
        try:
            peer = await service.join(args.url, args.token)
        finally:
            await service.stop()
        return f"{peer.name} ({peer.url})"

    try:
        joined = asyncio.run(_with_store(args.dir, join))
    except FederationError as exc:
        print(f"error: {exc}")
        return 1
    print(f"peered with {joined}; the nodes synchronise as soon as both run")
    return 0


def cmd_peers_load(args: argparse.Namespace) -> int:
    from node.demo.run import load_network

    try:
        network = json.loads(Path(args.file).read_text(encoding="utf-8"))
        count = asyncio.run(load_network(Path(args.dir), network))
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot load the network file {args.file}: {exc}")
        return 1
    print(f"{count} peers loaded from {args.file}")
    return 0


def cmd_peers_list(args: argparse.Namespace) -> int:
    async def listing(services: Any, store: NodeFederationStore) -> list[Any]:
        return list(await store.health())

    rows = asyncio.run(_with_store(args.dir, listing))
    if args.json:
        print(json.dumps([r.__dict__ if hasattr(r, "__dict__") else _as_dict(r) for r in rows], indent=2))
        return 0
    print(f"{'peer':<16} {'status':<10} {'queue':>5} {'lag':>5}  last success    last error")
    for r in rows:
        print(
            f"{r.name:<16} {r.status:<10} {r.queue_depth:>5} {r.lag:>5}  {r.last_success or '-'!s:<15} "
            f"{(r.last_error or '-')[:60]}"
        )
    return 0


def _as_dict(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}


def cmd_apply(args: argparse.Namespace) -> int:
    """File the join request with the sponsor named in the bundle; with --wait, wait for the certificate."""
    import time
    import urllib.error
    import urllib.request

    from protocol import canonical
    from protocol.governance import check_certificate

    directory = Path(args.dir)
    bundle_path = directory / "bundle.json"
    if not bundle_path.exists():
        print(f"error: {bundle_path} is missing: initialise the node with bigre init --bundle")
        return 1
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))

    async def own_document(services: Any, store: NodeFederationStore) -> bytes:
        await ensure_node_document(services)
        return await store.own_document()

    document = asyncio.run(_with_store(args.dir, own_document))
    request: dict[str, Any] = {"node": document, "sponsor": bundle["sponsor"]}
    for name in ("legal_name", "registry_number", "contact"):
        if getattr(args, name):
            request[name] = getattr(args, name)
    if bundle.get("case"):
        request["case"] = str(bundle["case"])
    sponsor_url = str(bundle["sponsor_url"]).rstrip("/")
    if not sponsor_url.startswith(("http://", "https://")):
        print(f"error: the bundle's sponsor_url {sponsor_url!r} is not an http(s) URL")
        return 1
    filing = urllib.request.Request(  # noqa: S310 - scheme checked above
        sponsor_url + "/federation/v1/apply",
        data=canonical.encode(request),
        headers={"Content-Type": "application/x-bigre+msgpack"},
    )
    try:
        with urllib.request.urlopen(filing, timeout=30) as response:  # noqa: S310 - scheme checked above
            answer = canonical.decode(response.read())
    except (urllib.error.URLError, OSError) as exc:
        print(f"error: the sponsor did not take the request: {exc}")
        return 1
    assert isinstance(answer, dict)
    ref = str(answer["proposal"])
    print(f"join request filed: admission proposal {ref} ({answer.get('result')!s})")
    if not args.wait:
        return 0
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        try:
            origin, record_id = ref.split("/", 1)
            with urllib.request.urlopen(  # noqa: S310
                f"{sponsor_url}/federation/v1/certificates/{origin}/{record_id}", timeout=10
            ) as response:
                certificate = response.read()
            break
        except urllib.error.HTTPError:
            time.sleep(1)
    else:
        print("not admitted yet; run again later")
        return 2

    async def check(services: Any, store: NodeFederationStore) -> str:
        from federation.trust import TrustStore
        from node.http.governance import load_charter

        trust = TrustStore(services.config.name)
        trust.load(await store.list_peers())
        members = [p.name for p in trust.peers() if p.status == "member"]
        decision = check_certificate(
            certificate,
            keys=trust,
            members=members,
            charter=load_charter(services.config.directory),
            now=services.clock(),
        )
        return f"{decision.tally.count('yes')} yes of {len(members)}"

    print(f"admitted: certificate checked here ({asyncio.run(_with_store(args.dir, check))})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from node.demo.run import run_demo

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
