"""The ``bigre`` command: thin. It parses, calls the library, prints results and readable errors.

Exit codes: 0 success; 1 error (the message says why); 2 bad usage (argparse); 3 an import refused some rows
(the good ones were imported). Each module of this package adds its subcommands with ``register(subparsers)``,
each command set with ``set_defaults(func=...)`` returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable, Sequence

from node import logs
from node.cli import backup, commands, mail, peers, resources, users
from node.errors import NodeError


def version() -> str:
    """The installed release (pyproject.toml's version)."""
    try:
        return importlib.metadata.version("bigre")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
Command = Callable[[argparse.Namespace], int]
REGISTRARS: tuple[Registrar, ...] = (
    commands.register,
    peers.register,
    mail.register,
    users.register,
    backup.register,
    resources.register,
)


def build_parser(registrars: Sequence[Registrar] = REGISTRARS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bigre", description="Bigre: one cooperative's node in the network.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (to stderr)")
    parser.add_argument("--version", action="version", version=f"bigre {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in registrars:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure("debug" if args.verbose else "info")  # `serve` applies the node's log settings once read
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
