"""The OpenAPI document of the JSON API, built from the routes' declarations (:class:`node.http.routing.Route`)."""

from __future__ import annotations

import re
from typing import Any, Final

from aiohttp import web

from node.config import NodeConfig
from node.http.routing import ROUTES_KEY, V1
from node.http.session import SESSION_COOKIE

_ERROR_SCHEMA: Final = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
_PATH_PARAM: Final = re.compile(r"\{([a-z_]+)\}")


def operation_id(method: str, path: str) -> str:
    """``get_members_member_id`` for ``GET /api/v1/members/{member_id}``."""
    words = path.removeprefix(V1).strip("/").replace("/", "_") or "root"
    return f"{method.lower()}_{words}".replace("{", "").replace("}", "").replace("-", "_")


def openapi_document(config: NodeConfig, app: web.Application) -> dict[str, Any]:
    """OpenAPI 3.1 for the JSON API: every route declared with :func:`~node.http.routing.add_routes`."""
    paths: dict[str, dict[str, Any]] = {}
    for route in app.get(ROUTES_KEY, []):
        path = route.path
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": operation_id(route.method, path),
            "tags": [route.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PATH_PARAM.findall(path)
            ]
            + [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in route.query],
            "responses": {
                str(route.status): {
                    "description": "success",
                    **({} if route.status == 204 else {"content": {"application/json": {"schema": {}}}}),
                },
                "default": {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
            "x-access": route.access,
        }
        if route.access != "anyone":
            operation["security"] = [{"bearer": []}, {"cookie": []}]
        if route.body:
            operation["requestBody"] = {
                "required": True,
                "description": route.body,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"Bigre node {config.name}",
            "version": "1.0.0",
            "description": "API of one cooperative's Bigre node.",
        },
        "servers": [{"url": config.url}],
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }
