"""Every log line names its request; logs can be JSON; the response carries the same request id."""

from __future__ import annotations

import io
import json
import logging

from node import logs

from .conftest import Api, Client


def test_json_lines_carry_the_request_id() -> None:
    out = io.StringIO()
    logs.configure("info", "json", stream=out)
    try:
        token = logs.REQUEST_ID.set("abc123def456")
        logging.getLogger("node.test").info("offer %s created", "x1")
        logs.REQUEST_ID.reset(token)
        logging.getLogger("node.test").debug("not at info level")
    finally:
        logs.configure("info", "text")
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "offer x1 created" and record["request_id"] == "abc123def456"
    assert record["level"] == "INFO" and record["logger"] == "node.test"


async def test_each_request_has_an_id_in_its_response_and_its_log_lines(
    api: Api, client: Client, caplog: object
) -> None:
    handler = logging.StreamHandler(out := io.StringIO())
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logging.Formatter(logs.TEXT_FORMAT))
    logging.getLogger("node").addHandler(handler)
    try:
        resp = await client.get("/api/v1/me")  # refused: the refusal is logged at INFO
        mine = await client.get("/api/v1/health", headers={"X-Request-Id": "proxy-7f3a9c21"})
        odd = await client.get("/api/v1/health", headers={"X-Request-Id": "not <sane> @ all"})
    finally:
        logging.getLogger("node").removeHandler(handler)
    request_id = resp.headers["X-Request-Id"]
    assert resp.status == 401 and len(request_id) == 16
    assert f"[{request_id}]" in out.getvalue()  # the refusal's line names the request
    assert mine.headers["X-Request-Id"] == "proxy-7f3a9c21"
    assert odd.headers["X-Request-Id"] != "not <sane> @ all" and len(odd.headers["X-Request-Id"]) == 16
