"""The node's own commands: ``init``, ``serve``, ``status``, ``users``, ``members``. Thin: each parses, calls the
services of a node opened by :func:`opened` (never started), and prints."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

from node import logs
from node.app import run
from node.compose import Node, open_node
from node.config import create_node_dir, load_config
from node.errors import NodeError
from node.federation_adapter.network_file import load_network
from node.services.members_csv import COLUMNS as CSV_COLUMNS
from node.services.members_csv import ImportReport, export_members, import_members, members_to_export
from node.services.passwords import check_password
from node.storage.database import Database
from node.storage.models import Account, MemberProfile
from node.workers import run_workers

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
Command = Callable[[argparse.Namespace], int]


@contextlib.asynccontextmanager
async def opened(directory: str | Path) -> AsyncIterator[Node]:
    """The node of a folder, opened (database migrated) but not started: what a one-shot command needs."""
    node = await open_node(load_config(Path(directory)))
    try:
        yield node
    finally:
        await node.close()


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

    async def prepare() -> int:
        async with opened(config.directory) as node:
            if not bundle:
                return 0
            return await load_network(node.federation_store, config.directory, bundle["network"])

    count = asyncio.run(prepare())
    if bundle:
        (config.directory / "bundle.json").write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
        print(f"bundle: {count} network nodes known; sponsor {bundle.get('sponsor')}")
        print(f"next: bigre serve {args.dir}, then bigre apply {args.dir} to file the join request")
    print(f"created node {config.name} in {config.directory}")
    print(f"  url:      {config.url}")
    print(f"  key id:   {config.key_id} (private key in {config.key_dir}, mode 0600)")
    print(f"  database: {_redact(config.database)}")
    print(f"next: bigre users add {args.dir} --email you@example.org --role operator")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the migrations this release brings (the upgrade procedure runs it with the node stopped)."""
    config = load_config(Path(args.dir))

    async def migrate() -> list[str]:
        db = Database.open(config.database)
        try:
            return await db.migrate()
        finally:
            await db.close()

    applied = asyncio.run(migrate())
    for line in applied:
        print(f"applied {line}")
    print(f"database {_redact(config.database)} is up to date" + (f" ({len(applied)} applied)" if applied else ""))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    config = load_config(Path(args.dir))
    logs.configure("debug" if args.verbose else config.log_level, config.log_format)
    if args.workers > 1:
        return run_workers(config, Path(args.dir), args.workers, args.host, args.port)
    run(config, args.host, args.port, worker=args.as_worker)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    async def status() -> dict[str, Any]:
        async with opened(args.dir) as s:
            return {
                "name": s.config.name,
                "display_name": s.config.display_name,
                "url": s.config.url,
                "key_id": s.key.kid,
                "database": _redact(s.config.database),
                **await s.status.counts(),
                "heads": await s.status.heads(),
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
        check_password(password, email=args.email.strip().lower())

    async def add() -> tuple[Account, str | None, str]:
        async with opened(args.dir) as s:
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
        async with opened(args.dir) as s:
            report = await import_members(s, data, dry_run=args.dry_run, progress=progress)
            if args.invite_all and not report.dry_run:
                mailed = await s.invitations.mail_links(report.invitations, args.language)
                print(f"{mailed} invitation mails queued (`bigre mail list` shows those not sent yet)")
            return report, s.config.url

    report, url = asyncio.run(run_import())
    for error in report.errors:
        print(f"line {error.line}: {error.email or '(no e-mail)'}: {'; '.join(error.reasons)}", file=sys.stderr)
    good = report.rows - len(report.errors)
    print(f"read {path.name} as {report.encoding} text, {report.delimiter}-separated")
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
        async with opened(args.dir) as s:
            return await members_to_export(s.db)

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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the node on one port (PostgreSQL only; default 1); see docs/operators.md",
    )
    p.add_argument("--as-worker", action="store_true", help=argparse.SUPPRESS)  # started by --workers
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "migrate",
        help="apply the database migrations of this release",
        description="Bring the database schema to this release, printing each migration applied (run it with the "
        "node stopped, after a backup, when upgrading; serve and the other commands also migrate, quietly).",
    )
    p.add_argument("dir", help="the node folder")
    p.set_defaults(func=cmd_migrate)

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
    p.add_argument("--invite-all", action="store_true", help="mail each imported member their invitation link")
    p.add_argument("--language", default="fr", choices=("fr", "en"), help="the invitation mails' language")
    p.set_defaults(func=cmd_members_import)
    p = members_sub.add_parser(
        "export",
        help="export members as CSV (the import format)",
        description="Export members as CSV; private fields are never exported.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("--output", "-o", help="file to write (default: stdout)")
    p.set_defaults(func=cmd_members_export)


def _redact(url: str) -> str:
    """A database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url
