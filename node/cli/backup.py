"""``bigre backup`` and ``bigre restore``: thin, over :mod:`node.storage.backup`."""

from __future__ import annotations

import argparse
from pathlib import Path

from node.cli.commands import _redact
from node.clock import utc_datetime
from node.config import load_config
from node.errors import NodeError
from node.storage.backup import backup_node, read_manifest, restore_node


def cmd_backup(args: argparse.Namespace) -> int:
    report = backup_node(Path(args.dir), Path(args.archive))
    print(f"backed up node {report.name} to {report.archive} (mode 0600: it holds the private keys)")
    print(f"  files:    {len(report.files)} ({', '.join(f for f in report.files if '/' not in f)})")
    if report.database == "sqlite":
        heads = ", ".join(f"{o}={s}" for o, s in sorted(report.heads.items())) or "(empty)"
        print(f"  database: SQLite, {report.database_bytes} bytes, copied online; heads {heads}")
    else:
        url = _redact(load_config(Path(args.dir)).database)
        print(f"  database: PostgreSQL ({url}) is NOT in the archive: back it up with its own tool, e.g.")
        print(f"    pg_dump --format=custom --dbname=DBNAME --file={report.archive}.dump")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    if args.check:
        manifest = read_manifest(Path(args.archive))
        print(
            f"{args.archive}: a backup of node {manifest['node']} ({manifest['database']}), taken "
            f"{utc_datetime(int(manifest['created'])):%Y-%m-%d %H:%M} UTC"
        )
        return 0
    if not args.dir:
        raise NodeError("give the node folder to restore into (or --check to only read the archive)")
    report = restore_node(Path(args.archive), Path(args.dir), replace=args.replace)
    print(f"restored node {report.name} into {report.directory}")
    print(f"  backup taken {utc_datetime(report.created):%Y-%m-%d %H:%M} UTC")
    if report.moved_aside is not None:
        print(f"  the folder that was there is now {report.moved_aside} (nothing was deleted)")
    if report.database == "sqlite":
        heads = ", ".join(f"{o}={s}" for o, s in sorted(report.heads.items())) or "(empty)"
        print(f"  database: SQLite, heads {heads}")
    else:
        print("  database: PostgreSQL, not in the archive: restore it with pg_restore first, e.g.")
        print("    pg_restore --clean --if-exists --dbname=DBNAME BACKUP.dump")
    print(f"next: bigre serve {args.dir}. Before signing anything new, the node takes back from its peers what it")
    print("published after this backup; run no command that writes (members import...) before that.")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backup",
        help="write the node folder and its database to one archive (online)",
        description="Write the node folder (node.json, keys, charter...) and, with SQLite, a consistent copy of its "
        "database taken with SQLite's online backup API to a new .tar.gz archive (mode 0600), while the node runs. "
        "A PostgreSQL database is backed up with pg_dump (docs/operators.md, Backups).",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument(
        "archive", help="the archive to create (e.g. /backup/coopaname-2027-03-01.tar.gz); never overwritten"
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore a node folder from a backup archive",
        description="Unpack a `bigre backup` archive into a node folder (anywhere: paths are relative to the "
        "folder). Stop the node first. At its next start the node takes back from its peers what it published "
        "after the backup, before signing anything new.",
    )
    p.add_argument("archive", help="the archive written by bigre backup")
    p.add_argument("dir", help="the node folder to restore into", nargs="?", default="")
    p.add_argument("--replace", action="store_true", help="move an existing folder aside (never deleted) and restore")
    p.add_argument("--check", action="store_true", help="only say what the archive holds")
    p.set_defaults(func=cmd_restore)
