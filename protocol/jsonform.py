"""The JSON form of protocol values, used by the test vectors and by tools that print records.

JSON cannot say "bytes", cannot tell 1 from 1.0 in most parsers, and loses integers past 2**53 in JavaScript.
So: byte strings are ``{"$bytes": "<lowercase hex>"}``, floats are ``{"$float": "<decimal repr>"}`` and integers
outside [-(2**53 - 1), 2**53 - 1] are ``{"$int": "<decimal>"}``. Everything else maps one to one.
"""

from __future__ import annotations

from typing import Any

from .canonical import Value
from .errors import LocalProtocolError

SAFE_INT = 2**53 - 1


def to_json(value: Value) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -SAFE_INT <= value <= SAFE_INT else {"$int": str(value)}
    if isinstance(value, float):
        return {"$float": repr(value)}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    raise LocalProtocolError(f"{type(value).__name__} has no JSON form")


def from_json(obj: Any) -> Value:
    if isinstance(obj, dict):
        if len(obj) == 1:
            ((key, inner),) = obj.items()
            if key == "$bytes":
                return bytes.fromhex(inner)
            if key == "$float":
                return float(inner)
            if key == "$int":
                return int(inner)
        return {k: from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_json(v) for v in obj]
    if isinstance(obj, float):
        raise LocalProtocolError("floats in the JSON form are written {'$float': '...'}")
    return obj  # type: ignore[no-any-return]
