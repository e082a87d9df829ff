"""``bigre resources``: publish the coop's spaces and machines from a JSON file, and list every coop's.

The file holds a list of resources as ``docs/PROTOCOL.md`` describes them (``resource``); an item with an ``id``
replaces that resource of this coop (``"status": "closed"`` stops new bookings). Run on the node's machine, it
publishes in the node's own name; the staff can do the same through the JSON API (``POST /api/v1/resources``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from node.cli.commands import opened
from node.errors import InvalidInput, NodeError


def cmd_resources_publish(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NodeError(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NodeError(f"{path} is not a JSON file: {exc}") from exc
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise NodeError(f"{path} must hold a resource (a JSON object) or a list of them")

    async def publish() -> list[tuple[int, str | None, str]]:
        results: list[tuple[int, str | None, str]] = []
        async with opened(args.dir) as s:
            for n, item in enumerate(items, 1):
                body = {k: v for k, v in item.items() if k != "id"}
                try:
                    view = await s.bookings.publish_for_node(body, item.get("id"))
                    results.append((n, str(view["id"]), str(view["title"])))
                except InvalidInput as exc:
                    results.append((n, None, "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message))
        return results

    failed = 0
    for n, record_id, text in asyncio.run(publish()):
        if record_id is None:
            failed += 1
            print(f"item {n}: refused: {text}", file=sys.stderr)
        else:
            print(f"item {n}: published {record_id} {text}")
    return 3 if failed else 0


def cmd_resources_list(args: argparse.Namespace) -> int:
    async def listed() -> list[dict[str, Any]]:
        async with opened(args.dir) as s:
            return await s.bookings.resources()

    for r in asyncio.run(listed()):
        needs = f" (needs {r['qualification']})" if r.get("qualification") else ""
        print(f"{r['origin']}/{r['id']}\t{r['kind']}\t{r['status']}\t{r['title']}{needs}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    resources = sub.add_parser(
        "resources", help="the coop's spaces and machines", description="Publish and list spaces and machines."
    )
    resources_sub = resources.add_subparsers(dest="resources_command", required=True, metavar="COMMAND")
    p = resources_sub.add_parser(
        "publish",
        help="publish or replace resources from a JSON file",
        description="Publish each resource of a JSON file (one object or a list); an item with an id replaces that "
        "resource. Refused items are reported (exit code 3); the others are published.",
    )
    p.add_argument("dir", help="the node folder")
    p.add_argument("file", help="the JSON file")
    p.set_defaults(func=cmd_resources_publish)
    p = resources_sub.add_parser("list", help="list every coop's resources this node holds")
    p.add_argument("dir", help="the node folder")
    p.set_defaults(func=cmd_resources_list)
