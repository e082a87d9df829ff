"""The ``bigre`` command: thin. It parses, calls the library, prints results and readable errors.

Exit codes: 0 success; 1 error (the message says why); 2 bad usage (argparse); 3 an import refused some rows
(the good ones were imported). Other packages add subcommands with a *registrar*: a function that receives the
subparsers object and adds its commands, each with ``set_defaults(func=...)`` returning an exit code. The
node's own registrars are in :data:`REGISTRARS`; ``node.cli.peers.register`` (peers, demo) is added.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func, select

from node.config import create_node_dir, load_config
from node.errors import NodeError
from node.http.app import federated_options, open_services
from node.http.state import NodeServices
from node.records import log as replication_log
from node.services.accounts import check_password
from node.services.members_csv import COLUMNS as CSV_COLUMNS
from node.services.members_csv import ImportReport, export_members, import_members
from node.storage.models import Account, LogEntry, MemberProfile, OutboxItem

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
Command = Callable[[argparse.Namespace], int]


def _services(directory: str) -> Any:
    return _ServicesContext(Path(directory))


class _ServicesContext:
    def __init__(self, directory: Path) -> None:
        self.config = load_config(directory)
        self.services: NodeServices | None = None

    async def __aenter__(self) -> NodeServices:
        self.services = await open_services(self.config, federated_options(self.config))
        return self.services

    async def __aexit__(self, *exc: object) -> None:
        if self.services is not None:
            await self.services.db.close()


# ----------------------------------------------------------------------------------------------- commands


def cmd_init(args: argparse.Namespace) -> int:
    bundle: dict[str, Any] = {}
    if args.bundle:
        bundle = json.loads(Path(args.bundle).read_text(encoding="utf-8"))
        if not isinstance(bundle, dict) or not isinstance(bundle.get("network"), dict):
            raise NodeError(f"{args.bundle} is not a Bigre bootstrap bundle (no 'network')")
    name, url = args.name or bundle.get("name"), args.url or bundle.get("url")
    if not name or not url:
        raise NodeError("give --name and --url, or a --bundle that has them")
    config = create_node_dir(
        Path(args.dir),
        name=name,
        url=url,
        display_name=args.display_name or bundle.get("display_name"),
        database_url=args.database_url,
        host=args.host,
        port=args.port,
    )

    async def prepare() -> None:
        async with _services(str(config.directory)):
            pass

    asyncio.run(prepare())
    if bundle:
        from node.demo.run import load_network

        (config.directory / "bundle.json").write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
        count = asyncio.run(load_network(config.directory, bundle["network"]))
        print(f"bundle: {count} network nodes known; sponsor {bundle.get('sponsor')}")
        print(f"next: bigre serve {args.dir}, then bigre apply {args.dir} to file the join request")
    print(f"created node {config.name} in {config.directory}")
    print(f"  url:      {config.url}")
    print(f"  key id:   {config.key_id} (private key in {config.key_dir}, mode 0600)")
    print(f"  database: {_redact(config.database_url)}")
    print(f"next: bigre users add {args.dir} --email you@example.org --role operator")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from node.http.app import run

    config = load_config(Path(args.dir))
    run(config, args.host, args.port)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    async def status() -> dict[str, Any]:
        async with _services(args.dir) as s:
            async with s.db.read() as session:
                heads = await replication_log.stored_heads(session)
                accounts = await session.scalar(select(func.count()).select_from(Account))
                entries = await session.scalar(select(func.count()).select_from(LogEntry))
                outbox = await session.scalar(select(func.count()).select_from(OutboxItem))
            return {
                "name": s.config.name,
                "display_name": s.config.display_name,
                "url": s.config.url,
                "key_id": s.key.kid,
                "database": _redact(s.config.database_url),
                "accounts": accounts,
                "entries": entries,
                "outbox": outbox,
                "heads": heads,
            }

    info = asyncio.run(status())
    print(f"node      {info['name']} ({info['display_name']})")
    print(f"url       {info['url']}")
    print(f"key id    {info['key_id']}")
    print(f"database  {info['database']}")
    print(f"accounts  {info['accounts']}")
    print(f"entries   {info['entries']}")
    print(f"outbox    {info['outbox']} waiting")
    heads = ", ".join(f"{origin}={seq}" for origin, seq in sorted(info["heads"].items())) or "(empty)"
    print(f"heads     {heads}")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        check_password(password)

    async def add() -> tuple[Account, str | None, str]:
        async with _services(args.dir) as s:
            account, token = await s.accounts.add_user(
                email=args.email, display_name=args.display_name, role=args.role, password=password
            )
            return account, token, s.config.url

    account, token, url = asyncio.run(add())
    print(f"created {account.role} {account.email} (account {account.id})")
    if token is not None:
        print(f"invitation link (valid 30 days, give it to {account.email} only):")
        print(f"  {url}/invitation/{token}")
    return 0


def cmd_members_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NodeError(f"cannot read {path}: {exc.strerror}") from exc

    def progress(stage: str, done: int, total: int) -> None:
        print(f"\r{stage} {done}/{total} rows", end="\n" if done == total else "", file=sys.stderr, flush=True)

    async def run_import() -> tuple[ImportReport, str]:
        async with _services(args.dir) as s:
            return await import_members(s, data, dry_run=args.dry_run, progress=progress), s.config.url

    report, url = asyncio.run(run_import())
    for error in report.errors:
        print(f"line {error.line}: {error.email or '(no e-mail)'}: {'; '.join(error.reasons)}", file=sys.stderr)
    good = report.rows - len(report.errors)
    if report.dry_run:
        print(f"dry run: {good} of {report.rows} rows would be imported, {len(report.errors)} refused")
    else:
        print(f"imported {report.imported} of {report.rows} rows, {len(report.errors)} refused")
        if report.invitations:
            _write_invitations(report.invitations, url, args.invitations)
    return 3 if report.errors else 0


def _write_invitations(invitations: list[tuple[str, str]], url: str, target: str | None) -> None:
    lines = ["email,invitation_url"] + [f"{email},{url}/invitation/{token}" for email, token in invitations]
    if target:
        fd = os.open(target, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)  # invitation links are secrets
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        print(f"invitation links written to {target}")
    else:
        print("\n".join(lines))


def cmd_members_export(args: argparse.Namespace) -> int:
    async def rows() -> list[tuple[Account, MemberProfile]]:
        async with _services(args.dir) as s, s.db.read() as session:
            result = await session.execute(
                select(Account, MemberProfile)
                .join(MemberProfile, MemberProfile.account_id == Account.id)
                .order_by(Account.id)
            )
            return [(a, p) for a, p in result.all()]

    members = asyncio.run(rows())
    out: TextIO
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = export_members(members, out)
        print(f"exported {count} members to {args.output}", file=sys.stderr)
    else:
        count = export_members(members, sys.stdout)
    return 0


# --------------------------------------------------------------------------------------------- the parser


def register_node_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="create a node folder (config, key, database)",
        description="Create a node folder: node.json, keys/<kid>.pem (mode 0600) and the database.",
    )
    p.add_argument("dir", help="the node folder to create")
    p.add_argument("--name", help="short name, also the origin name (e.g. coopaname); required without --bundle")
    p.add_argument("--url", help="public base URL, e.g. https://bigre.coopaname.coop; required without --bundle")
    p.add_argument("--bundle", help="a bootstrap bundle from the sponsoring coop's advisor (name, URL, network)")
    p.add_argument("--display-name", help="the coop's name as people read it")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file in the folder)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8400, help="port to listen on (default 8400)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("serve", help="run the node's web server", description="Serve the node until SIGINT/SIGTERM.")
    p.add_argument("dir", help="the node folder")
    p.add_argument("--host", help="address to listen on (default: from node.json)")
    p.add_argument("--port", type=int, help="port to listen on (default: from node.json)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "status",
        help="show name, URL, key, counts and heads",
        description="Show the node's name, URL, key id, counts and heads.",
    )
    p.add_argument("dir", help="the node folder")
    p.set_defaults(func=cmd_status)

    users = sub.add_parser("users", help="manage accounts", description="Manage accounts.")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    p = users_sub.add_parser(
        "add",
        help="create an account (prints an invitation link without a password)",
        description="Create an account; without --password-stdin, print an invitation link.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("--email", required=True, help="the person's e-mail address")
    p.add_argument("--role", required=True, choices=("operator", "advisor", "member"), help="the account's role")
    p.add_argument("--display-name", help="name shown to others (default: from the e-mail)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(func=cmd_users_add)

    members = sub.add_parser("members", help="import and export members", description="Import and export members.")
    members_sub = members.add_subparsers(dest="members_command", required=True, metavar="COMMAND")
    p = members_sub.add_parser(
        "import",
        help="import members from a CSV file",
        description="Import members from CSV (columns: "
        + ", ".join(CSV_COLUMNS)
        + "). Bad rows are reported; good rows are imported "
        "in one transaction. Exit code 3 when some rows were refused.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("file", help="the CSV file (UTF-8, header row required, ';' between items of a cell)")
    p.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    p.add_argument("--invitations", metavar="FILE", help="write the invitation links there (mode 0600), not stdout")
    p.set_defaults(func=cmd_members_import)
    p = members_sub.add_parser(
        "export",
        help="export members as CSV (the import format)",
        description="Export members as CSV; private fields are never exported.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p.set_defaults(func=cmd_members_export)


REGISTRARS: list[Registrar] = [register_node_commands]
OPTIONAL_REGISTRARS: tuple[str, ...] = ("node.cli.peers",)  # modules with a ``register(subparsers)`` function


def registrars() -> list[Registrar]:
    found = list(REGISTRARS)
    for module_name in OPTIONAL_REGISTRARS:
        if importlib.util.find_spec(module_name.split(".")[0]) and importlib.util.find_spec(module_name):
            register = getattr(importlib.import_module(module_name), "register", None)
            if callable(register):
                found.append(register)
    return found


def build_parser(extra: Sequence[Registrar] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bigre", description="Bigre: one cooperative's node in the network.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in registrars() if extra is None else extra:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # one line per request or per scheduled run drowns what operators need to see
        for noisy in ("aiohttp.access", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    command: Command = args.func
    try:
        return command(args)
    except NodeError as exc:
        print(f"bigre: error: {exc.message}", file=sys.stderr)
        fields = getattr(exc, "fields", None)
        for name, why in sorted((fields or {}).items()):
            print(f"  {name}: {why}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _redact(url: str) -> str:
    """A database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


if __name__ == "__main__":
    sys.exit(main())
