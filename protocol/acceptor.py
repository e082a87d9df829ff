"""Generated yes/no validators for record bodies: the fast path of schema checking.

The closure validators in ``records`` give precise errors but pay a Python call per field; on the single-record
pipeline that was a third of the cost on top of the signature check. Here each map schema becomes straight-line
Python source (one ``dict.get`` and one inline type test per field), compiled once at import. It answers only
"acceptable or not"; on "not", ``records`` runs the precise validators to say why. The generated source comes
from the schema declaration alone (names are checked identifiers, constants go through a namespace), never from
input.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgpack

if TYPE_CHECKING:
    from .records import Field

Acceptor = Callable[[Any, bool, bool], bool]

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z").match


def _is_date(v: str) -> bool:
    if _DATE(v) is None:
        return False
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        return False
    return True


class _Builder:
    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_MISSING": _MISSING,
            "_is_date": _is_date,
            "_unknown_ok": _unknown_ok,
        }
        self.counter = 0

    def const(self, value: Any) -> str:
        self.counter += 1
        name = f"_c{self.counter}"
        self.namespace[name] = value
        return name

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def test(self, f: Field, var: str, indent: str) -> list[str]:
        """Lines that ``return False`` unless ``var`` satisfies field ``f``; nested maps and lists are inlined."""
        k = f.kind
        if k == "str":
            cond = f"type({var}) is not str or len({var}) > {f.max_len}"
            if f.pattern:
                matcher = self.const(re.compile("(?:" + f.pattern + r")\Z").match)
                cond += f" or {matcher}({var}) is None"
            return [f"{indent}if {cond}: return False"]
        if k == "enum":
            choices = self.const(frozenset(f.choices))
            return [f"{indent}if type({var}) is not str or {var} not in {choices}: return False"]
        if k == "int":
            lo = f.min if f.min is not None else -(2**63)
            hi = f.max if f.max is not None else 2**63 - 1
            return [f"{indent}if type({var}) is not int or not {lo} <= {var} <= {hi}: return False"]
        if k == "bool":
            return [f"{indent}if type({var}) is not bool: return False"]
        if k == "bytes":
            return [f"{indent}if type({var}) is not bytes or len({var}) != {f.max_len}: return False"]
        if k == "date":
            return [f"{indent}if type({var}) is not str or not _is_date({var}): return False"]
        if k == "list":
            assert f.item is not None
            item = self.fresh("_i")
            lines = [
                f"{indent}if type({var}) is not list or len({var}) > {f.max_len}: return False",
                f"{indent}for {item} in {var}:",
            ]
            return lines + self.test(f.item, item, indent + "    ")
        return self.map_block(f.fields, var, indent)

    def map_block(self, fields: tuple[Field, ...], var: str, indent: str) -> list[str]:
        keys, count, x = self.fresh("_k"), self.fresh("_n"), self.fresh("_x")
        known = self.const(frozenset(f.name for f in fields))
        lines = [
            f"{indent}if type({var}) is not dict: return False",
            f"{indent}if wire:",
            f"{indent}    {keys} = list({var})",
            f"{indent}    if {keys} != sorted({keys}): return False",
            f"{indent}{count} = 0",
        ]
        for f in sorted(fields, key=lambda f: f.name):
            lines.append(f"{indent}{x} = {var}.get({f.name!r}, _MISSING)")
            if f.required:
                lines.append(f"{indent}if {x} is _MISSING: return False")
                lines.append(f"{indent}{count} += 1")
                lines.extend(self.test(f, x, indent))
            else:
                lines.append(f"{indent}if {x} is not _MISSING:")
                lines.append(f"{indent}    {count} += 1")
                lines.extend(self.test(f, x, indent + "    "))
        lines += [
            f"{indent}if {count} != len({var}):",
            f"{indent}    if not lenient: return False",
            f"{indent}    if not all(_unknown_ok({var}[k]) for k in {var} if k not in {known}): return False",
        ]
        return lines


_MISSING = object()


def _unknown_ok(value: Any) -> bool:
    from . import canonical  # local: canonical is cheap to import, but keep this module's imports minimal

    try:
        canonical.decode(msgpack.packb(value, use_bin_type=True))
    except Exception:
        return False
    return True


def generate_acceptor(fields: tuple[Field, ...], name: str) -> Acceptor:
    builder = _Builder()
    body = builder.map_block(fields, "v", "    ")
    source = "\n".join(["def accept(v, lenient, wire):", *body, "    return True"])
    code = compile(source, f"<acceptor {name}>", "exec")
    exec(code, builder.namespace)  # noqa: S102 - source generated from the schema declaration only
    acceptor: Acceptor = builder.namespace["accept"]
    return acceptor
