"""``bigre mail``: the outgoing mail queue from the command line (what is waiting or failed, send again, send
now) and invitations by e-mail.

A command only queues or changes rows; the running node's ``mail queue`` job sends them within
``mail_seconds`` (``bigre mail send`` sends what is due at once, e.g. on a node that is not serving).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from node.cli.commands import opened
from node.clock import utc_datetime


def _when(ms: int | None) -> str:
    return "" if ms is None else utc_datetime(ms).strftime("%Y-%m-%d %H:%M UTC")


def cmd_mail_list(args: argparse.Namespace) -> int:
    async def run() -> tuple[list[dict[str, Any]], dict[str, int], bool]:
        async with opened(args.dir) as node:
            mails = await node.mail.list_mails(None, status=args.status)
            return mails, await node.mail.counts(), bool(node.config.smtp_host)

    mails, counts, configured = asyncio.run(run())
    if not configured:
        print("no SMTP server is configured (smtp_host): mails wait in the queue")
    print("  ".join(f"{status} {n}" for status, n in counts.items()))
    for m in mails:
        due = f" next {_when(m['next_attempt_at'])}" if m["next_attempt_at"] else ""
        print(f"#{m['id']}  {m['status']}  {m['kind']}  to {m['to']}  attempts {m['attempts']}{due}")
        print(f"     {m['subject']}")
        if m["last_error"]:
            print(f"     last error: {m['last_error']}")
    return 0


def cmd_mail_retry(args: argparse.Namespace) -> int:
    async def run() -> list[int]:
        async with opened(args.dir) as node:
            ids = list(args.ids)
            if args.all_failed:
                ids += [m["id"] for m in await node.mail.list_mails(None, status="failed", limit=10_000)]
            for mail_id in ids:
                await node.mail.retry(None, mail_id)
            return ids

    ids = asyncio.run(run())
    print(f"queued again: {', '.join(f'#{i}' for i in ids) or 'nothing'}")
    return 0


def cmd_mail_send(args: argparse.Namespace) -> int:
    async def run() -> tuple[int, bool]:
        async with opened(args.dir) as node:
            return await node.mail.run_due(), bool(node.config.smtp_host)

    sent, configured = asyncio.run(run())
    print(f"sent {sent} mails" if configured else "no SMTP server is configured (smtp_host): nothing sent")
    return 0


def cmd_mail_invite(args: argparse.Namespace) -> int:
    async def run() -> tuple[Any, str]:
        async with opened(args.dir) as node:
            invited = await node.invitations.invite(
                None, email=args.email, display_name=args.display_name, role=args.role, language=args.language
            )
            return invited, node.config.url

    invited, url = asyncio.run(run())
    verb = "invitation mailed again (the old links no longer work)" if invited.resent else "invitation mailed"
    print(f"{verb} to {invited.account.email} ({invited.account.role}, account {invited.account.id})")
    if args.show_link:
        print(f"  {url}/invitation/{invited.token}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mail = sub.add_parser("mail", help="the outgoing mail queue and invitations by e-mail", description=__doc__)
    mail_sub = mail.add_subparsers(dest="mail_command", required=True, metavar="COMMAND")
    p = mail_sub.add_parser("list", help="mails waiting or failed (or of one state)", description="List the queue.")
    p.add_argument("dir", help="the node folder")
    p.add_argument("--status", choices=("queued", "sending", "sent", "failed"), help="only mails in this state")
    p.set_defaults(func=cmd_mail_list)
    p = mail_sub.add_parser("retry", help="queue failed mails again", description="Queue failed mails again.")
    p.add_argument("dir", help="the node folder")
    p.add_argument("ids", nargs="*", type=int, help="the mails' numbers (from `bigre mail list`)")
    p.add_argument("--all-failed", action="store_true", help="every failed mail")
    p.set_defaults(func=cmd_mail_retry)
    p = mail_sub.add_parser("send", help="send the due mails now", description="Send the due mails now.")
    p.add_argument("dir", help="the node folder")
    p.set_defaults(func=cmd_mail_send)
    p = mail_sub.add_parser(
        "invite",
        help="invite a person by e-mail (again, if their account was never activated)",
        description="Create an account and mail its invitation link; for an account never activated, mail a "
        "fresh link (the old ones stop working).",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("email", help="the person's e-mail address")
    p.add_argument("--role", default="member", choices=("operator", "advisor", "member"), help="default: member")
    p.add_argument("--display-name", help="name shown to others (default: from the e-mail)")
    p.add_argument("--language", default="fr", choices=("fr", "en"), help="the mail's language (default: fr)")
    p.add_argument("--show-link", action="store_true", help="also print the link (give it to that person only)")
    p.set_defaults(func=cmd_mail_invite)
