"""``bigre users list | set-role | disable | enable | reset-password | delete``: the operator's tools over
accounts at the console (``bigre users add`` is in :mod:`node.cli.commands`). Thin: each opens the node, calls
:class:`node.services.users.Users` as the console's operator, and prints. An account is named by its e-mail
address or its number (the first column of ``bigre users list``)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from node.cli.commands import opened
from node.compose import Node
from node.errors import NodeError
from node.services.users import CONSOLE, PER_PAGE, STATUSES, AccountPage
from node.viewer import ROLES

T = TypeVar("T")


def _with_node(directory: str, work: Callable[[Node], Awaitable[T]]) -> T:
    async def run() -> T:
        async with opened(directory) as node:
            return await work(node)

    return asyncio.run(run())


def _status(account: dict[str, Any]) -> str:
    if account["disabled"]:
        return "disabled"
    return "active" if account["activated"] else "invited"


def cmd_list(args: argparse.Namespace) -> int:
    async def work(node: Node) -> AccountPage:
        return await node.users.search(
            CONSOLE, q=args.search or "", role=args.role, status=args.status, page=args.page, per_page=args.per_page
        )

    found = _with_node(args.dir, work)
    print(f"{'id':>7}  {'role':8}  {'status':8}  {'e-mail':40}  name")
    for a in found.items:
        print(f"{a['id']:>7}  {a['role']:8}  {_status(a):8}  {a['email']:40}  {a['display_name']}")
    matches = "1 account matches" if found.total == 1 else f"{found.total} accounts match"
    print(f"page {found.page} of {found.pages}, {matches}")
    return 0


def cmd_set_role(args: argparse.Namespace) -> int:
    async def work(node: Node) -> dict[str, Any]:
        account = await node.users.find(CONSOLE, args.account)
        return await node.users.set_role(CONSOLE, account.id, args.role)

    changed = _with_node(args.dir, work)
    print(f"{changed['email']} (account {changed['id']}) is now {changed['role']}")
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    async def work(node: Node) -> dict[str, Any]:
        account = await node.users.find(CONSOLE, args.account)
        return await node.users.set_disabled(CONSOLE, account.id, disabled)

    changed = _with_node(args.dir, work)
    if disabled:
        print(f"disabled {changed['email']} (account {changed['id']}): it cannot sign in, its sessions ended")
    else:
        print(f"enabled {changed['email']} (account {changed['id']})")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def cmd_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def cmd_reset_password(args: argparse.Namespace) -> int:
    async def work(node: Node) -> tuple[str, str]:
        account = await node.users.find(CONSOLE, args.account)
        token = await node.users.reset_link_token(CONSOLE, account.id)
        return account.email, f"{node.config.url}/invitation/{token}"

    email, link = _with_node(args.dir, work)
    print(f"one-time link to set a new password (valid 24 hours, give it to {email} only):")
    print(f"  {link}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    if not args.yes:
        raise NodeError("erasing an account cannot be undone: add --yes to confirm")

    async def work(node: Node) -> tuple[str, int]:
        account = await node.users.find(CONSOLE, args.account)
        return account.email, await node.users.delete(CONSOLE, account.id)

    email, withdrawn = _with_node(args.dir, work)
    print(f"erased {email}; {withdrawn} shared records withdrawn from the network")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the operator's commands to the ``users`` group that :mod:`node.cli.commands` created."""
    users = _users_group(sub)
    p = users.add_parser(
        "list",
        help="list accounts (search, filters, pages)",
        description="List accounts by e-mail, one page at a time; --search matches e-mail and name, any case.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("--search", "-s", help="words the e-mail or the name contains")
    p.add_argument("--role", choices=ROLES, help="only this role")
    p.add_argument("--status", choices=STATUSES, help="only active, invited (no password yet) or disabled accounts")
    p.add_argument("--page", type=int, default=1, help="page number (default 1)")
    p.add_argument("--per-page", type=int, default=PER_PAGE, help=f"accounts per page (default {PER_PAGE})")
    p.set_defaults(func=cmd_list)

    p = users.add_parser("set-role", help="change an account's role", description="Change an account's role.")
    p.add_argument("dir", help="the node folder")
    p.add_argument("account", help="e-mail address or account number")
    p.add_argument("role", choices=ROLES, help="the new role")
    p.set_defaults(func=cmd_set_role)

    p = users.add_parser(
        "disable",
        help="disable an account (it cannot sign in; its sessions end)",
        description="Disable an account: it cannot sign in any more, and its sessions and API tokens end now.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("account", help="e-mail address or account number")
    p.set_defaults(func=cmd_disable)

    p = users.add_parser("enable", help="enable a disabled account", description="Enable a disabled account again.")
    p.add_argument("dir", help="the node folder")
    p.add_argument("account", help="e-mail address or account number")
    p.set_defaults(func=cmd_enable)

    p = users.add_parser(
        "reset-password",
        help="print a one-time link to set a new password",
        description="Print a one-time link (valid 24 hours) with which the person sets a new password; earlier "
        "links of the account stop working; the current password works until the link is used.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("account", help="e-mail address or account number")
    p.set_defaults(func=cmd_reset_password)

    p = users.add_parser(
        "delete",
        help="erase an account and withdraw its records",
        description="Erase an account: its profile and shared records are withdrawn from the network, its "
        "messages and sessions deleted. Cannot be undone.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("account", help="e-mail address or account number")
    p.add_argument("--yes", action="store_true", help="confirm the erasure")
    p.set_defaults(func=cmd_delete)


def _users_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The subcommands of ``bigre users`` (created by :mod:`node.cli.commands`, registered before this module)."""
    users = sub.choices["users"]
    for action in users._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the users command group is missing")
