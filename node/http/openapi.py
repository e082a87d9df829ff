"""The OpenAPI 3.1 document of the JSON API, built from the routes' declarations (:class:`node.http.routing.Route`):
the same pydantic types that validate a route's input (and, under ``check_responses``, its answers) give its
schemas here, so the document cannot say something the node does not do.

Only the JSON API (``/api/v1``) is described: the pages are HTML and the federation's routes speak signed
msgpack (docs/PROTOCOL.md §13).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from node.config import NodeConfig
from node.http.routing import ERROR_REASONS, V1, Route
from node.http.session import SESSION_COOKIE
from node.http.types import PATH_PARAMS, Error

REF: Final = "#/components/schemas/{model}"
_ACCESS: Final = {
    "anyone": "Anyone may call it; signed-in callers may see more.",
    "member": "Signed-in members of this coop.",
    "staff": "Advisors and operators of this coop.",
    "operator": "Operators of this coop.",
}
_DEFS_NAME: Final = re.compile(r"[^A-Za-z0-9._-]")


def operation_id(route: Route) -> str:
    """The route's declared id, else ``get_members_member_id`` for ``GET /api/v1/members/{member_id}``."""
    if route.operation_id:
        return route.operation_id
    words = route.path.removeprefix(V1).strip("/").replace("/", "_") or "root"
    return f"{route.method.lower()}_{words}".replace("{", "").replace("}", "").replace("-", "_")


class _Schemas:
    """Every type's schema in one generation, so a model used by several routes is one component."""

    def __init__(self) -> None:
        self.inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = []

    def add(self, key: str, kind: Any, mode: JsonSchemaMode) -> tuple[str, JsonSchemaMode]:
        self.inputs.append((key, mode, TypeAdapter(kind)))
        return key, mode

    def build(self) -> tuple[dict[tuple[str, JsonSchemaMode], dict[str, Any]], dict[str, Any]]:
        by_key, defs = TypeAdapter.json_schemas(self.inputs, ref_template=REF)
        return dict(by_key), dict(defs.get("$defs", {}))


def openapi_document(config: NodeConfig, routes: Iterable[Route]) -> dict[str, Any]:
    """OpenAPI 3.1 for the JSON API: every declared route, with its schemas, security and statuses."""
    document: dict[str, Any] = json.loads(openapi_json(config, routes))
    return document


def openapi_json(config: NodeConfig, routes: Iterable[Route]) -> str:
    """:func:`openapi_document` as the JSON text the node serves (made once per node name, URL and routes)."""
    return _document_text(tuple(routes), config.name, config.url)


@functools.lru_cache(maxsize=16)
def _document_text(routes: tuple[Route, ...], name: str, url: str) -> str:
    paths, defs = _described(routes)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": f"Bigre node {name}",
            "version": "1.0.0",
            "description": (
                "The JSON API of one cooperative's Bigre node. Errors are always "
                '{"error": {"code", "message", "fields"?}}; a session cookie authorises a state-changing request '
                "only with an X-Requested-With header."
            ),
        },
        "servers": [{"url": url}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "the token of POST /auth/login"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }
    return json.dumps(document, ensure_ascii=False)


@functools.lru_cache(maxsize=8)
def _described(routes: tuple[Route, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The paths and schemas of these routes (made once per set of routes: it takes a few hundred ms)."""
    schemas = _Schemas()
    error_key = schemas.add("error", Error, "serialization")
    keys: list[dict[str, Any]] = []
    for n, route in enumerate(routes):
        k: dict[str, Any] = {}
        for name in route.params:
            k[f"path:{name}"] = schemas.add(f"{n}:path:{name}", PATH_PARAMS[name], "validation")
        if route.query is not None:
            k["query"] = schemas.add(f"{n}:query", route.query, "validation")
        if route.body is not None:
            k["body"] = schemas.add(f"{n}:body", route.body, "validation")
        for status, kind in route.success.items():
            if kind is not None:
                k[f"status:{status}"] = schemas.add(f"{n}:{status}", kind, "serialization")
        keys.append(k)
    by_key, defs = schemas.build()
    paths: dict[str, dict[str, Any]] = {}
    for route, k in zip(routes, keys, strict=True):
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": by_key[k[f"path:{name}"]]} for name in route.params
        ]
        if route.query is not None:
            parameters += _query_parameters(route.query, by_key[k["query"]], defs)
        responses: dict[str, Any] = {}
        for status, kind in sorted(route.success.items()):
            answer: dict[str, Any] = {"description": "success" if status < 300 else "redirect"}
            if kind is not None:
                answer["content"] = {"application/json": {"schema": by_key[k[f"status:{status}"]]}}
            if route.headers:
                answer["headers"] = {
                    name: {"description": text, "schema": {"type": "string"}} for name, text in route.headers
                }
            responses[str(status)] = answer
        for status in route.error_statuses:
            responses[str(status)] = {
                "description": ERROR_REASONS.get(status, "error"),
                "content": {"application/json": {"schema": by_key[error_key]}},
            }
        operation: dict[str, Any] = {
            "summary": route.summary.strip().splitlines()[0],
            "description": _ACCESS[route.access],
            "operationId": operation_id(route),
            "tags": [route.tag],
            "responses": responses,
            "x-access": route.access,
            "security": (
                [{}, {"bearer": []}, {"cookie": []}] if route.access == "anyone" else [{"bearer": []}, {"cookie": []}]
            ),
        }
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            body_schema = by_key[k["body"]]
            operation["requestBody"] = {
                "required": bool(_resolve(body_schema, defs).get("required")),
                "content": {"application/json": {"schema": body_schema}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return paths, defs


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        found: dict[str, Any] = defs[ref.rsplit("/", 1)[-1]]
        return found
    return schema


def _query_parameters(model: type[BaseModel], schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """One query parameter per field of the query's model (the model's schema, inlined per parameter)."""
    resolved = _resolve(schema, defs)
    required = set(resolved.get("required", ()))
    out = []
    for name, prop in resolved.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None) or (model.model_fields[name].description or None)
        prop.pop("title", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        out.append(parameter)
    return out
