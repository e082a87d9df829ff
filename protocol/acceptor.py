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

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z").match


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
        self.functions: list[str] = []
        self.counter = 0

    def const(self, value: Any) -> str:
        self.counter += 1
        name = f"_c{self.counter}"
        self.namespace[name] = value
        return name

    def test(self, f: Field, var: str, indent: str, depth: int) -> list[str]:
        """Lines that ``return False`` unless ``var`` satisfies field ``f``."""
        k = f.kind
        if k == "str":
            cond = f"type({var}) is not str or len({var}) > {f.max_len}"
            if f.pattern:
                cond += f" or {self.const(re.compile(f.pattern + chr(92) + 'Z').match)}({var}) is None"
            return [f"{indent}if {cond}: return False"]
        if k == "enum":
            return [
                f"{indent}if type({var}) is not str or {var} not in {self.const(frozenset(f.choices))}: return False"
            ]
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
            item = f"_i{depth}"
            lines = [
                f"{indent}if type({var}) is not list or len({var}) > {f.max_len}: return False",
                f"{indent}for {item} in {var}:",
            ]
            return lines + self.test(f.item, item, indent + "    ", depth + 1)
        fn = self.map_function(f.fields)
        return [f"{indent}if not {fn}({var}, lenient, wire): return False"]

    def map_function(self, fields: tuple[Field, ...]) -> str:
        self.counter += 1
        name = f"_map{self.counter}"
        known = self.const(frozenset(f.name for f in fields))
        lines = [
            f"def {name}(v, lenient, wire):",
            "    if type(v) is not dict: return False",
            "    keys = list(v)",
            "    if wire and keys != sorted(keys): return False",
            "    n = 0",
        ]
        for f in sorted(fields, key=lambda f: f.name):
            lines.append(f"    x = v.get({f.name!r}, _MISSING)")
            lines.append("    if x is _MISSING:")
            lines.append("        " + ("return False" if f.required else "pass"))
            lines.append("    else:")
            lines.append("        n += 1")
            lines.extend(self.test(f, "x", "        ", 0))
        lines += [
            "    if n != len(v):",
            "        if not lenient: return False",
            f"        return all(_unknown_ok(v[k]) for k in keys if k not in {known})",
            "    return True",
        ]
        self.functions.append("\n".join(lines))
        return name


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
    top = builder.map_function(fields)
    source = "\n\n".join(builder.functions)
    code = compile(source, f"<acceptor {name}>", "exec")
    exec(code, builder.namespace)  # noqa: S102 - source generated from the schema declaration only
    acceptor: Acceptor = builder.namespace[top]
    return acceptor
