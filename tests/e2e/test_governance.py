"""A fourth coop joins the network: from an advisor's case to an admitted node whose members the others find.

Real processes all the way: an advisor of Coopaname builds the bootstrap bundle from an onboarding case, the new
coop's node is created from it (``bigre init --bundle``, keys generated locally), files its join request with its
sponsor (``bigre apply``), the three founders' operators vote under the majority charter, every node reaches the
decision and checks the certificate, the newcomer bootstraps the network's history and its members become
searchable on the three others.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from node.config import load_config
from protocol import KeyInfo, Keyring, VerifyKey
from protocol.governance import check_certificate

from .cluster import REPO, Cluster, Node, eventually, free_port


def bigre(*args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
    return result.stdout


def test_a_fourth_coop_is_onboarded_admitted_and_found(cluster: Cluster, tmp_path: Path) -> None:
    cluster.build(names=("coopaname", "smart", "oxalis"))
    cluster.start()
    cluster.wait_converged()
    coopaname, smart, oxalis = cluster["coopaname"], cluster["smart"], cluster["oxalis"]

    # 1. the advisor's case, up to registration, and the bundle
    advisor = coopaname.login("conseil@coopaname.example")
    answer = coopaname.api(
        "POST",
        "/api/v1/onboarding/cases",
        {"title": "Scop-TI, atelier de réparation", "origin_kind": "new_creation", "target_form": "other"},
        token=advisor,
    )
    assert answer.status == 201, answer.body[:500]
    case = answer.json()
    case_path = f"/api/v1/onboarding/cases/{case['origin']}/{case['id']}"
    for stage in ("co_accompaniment", "feasibility", "legal_form", "statutes", "financing", "registration"):
        moved = coopaname.api("POST", case_path + "/stage", {"stage": stage}, token=advisor)
        assert moved.status == 200, (stage, moved.body[:500])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    made = coopaname.api(
        "POST", case_path + "/bundle", {"name": "scop-ti", "url": url, "display_name": "Scop-TI"}, token=advisor
    )
    assert made.status == 201, made.body[:500]
    bundle = made.json().get("bundle", made.json())
    bundle_file = tmp_path / "bundle.json"
    bundle_file.write_text(json.dumps(bundle), encoding="utf-8")

    # 2. the new node, from the bundle, with a member who shares her profile with the network
    directory = tmp_path / "scop-ti"
    bigre("init", str(directory), "--bundle", str(bundle_file), "--port", str(port))
    bigre(
        "users",
        "add",
        str(directory),
        "--email",
        "ines@scop-ti.example",
        "--role",
        "member",
        "--password-stdin",
        stdin="réparer-ensemble-2027\n",
    )
    env = {**os.environ, "BIGRE_ANTI_ENTROPY_SECONDS": "1", "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "scop-ti.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "serve", str(directory), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
    try:
        eventually(lambda: _health(url), what="scop-ti up", within=60)
        token = _login(url, "ines@scop-ti.example", "réparer-ensemble-2027")
        updated = _call(
            url,
            "PATCH",
            "/api/v1/me/profile",
            {
                "fields": {"display_name": "Inès Quatrième-Coop", "trades": ["H2206"], "place": "Montreuil"},
                "visibility": {"display_name": "network", "trades": "network", "place": "network"},
            },
            token,
        )
        assert updated[0] == 200, updated

        # 3. the join request, the votes
        out = bigre("apply", str(directory), "--legal-name", "SCOP-TI SA coopérative", "--registry-number", "123456789")
        ref = out.split("admission proposal ")[1].split()[0]
        for node in (coopaname, smart, oxalis):
            eventually(functools.partial(_has_proposal, node, ref), what=f"{node.name} knows {ref}")
        for node in (coopaname, smart, oxalis):
            vote = node.api(
                "POST", "/api/v1/governance/votes", {"proposal": ref, "decision": "yes"}, token=node.login("operator")
            )
            assert vote.status in (201, 422), vote.body[:300]  # 422: already decided by the first two votes

        # 4. every founder decides, admits, and its certificate checks with the founders' keys alone
        keys = Keyring()
        for node in (coopaname, smart, oxalis):
            keys.add(node.name, KeyInfo(VerifyKey.from_bytes(node.key().public_bytes)))
        for node in (coopaname, smart, oxalis):
            eventually(functools.partial(_admitted, node), what=f"admitted on {node.name}")
            origin, record_id = ref.split("/")
            answer = node.api("GET", f"/federation/v1/certificates/{origin}/{record_id}")
            assert answer.status == 200
            decision = check_certificate(
                answer.body,
                keys=keys,
                members=("coopaname", "smart", "oxalis"),
                charter={"admission_rule": "majority"},
                now=2**52,
            )
            assert decision.tally.count("yes") >= 2
        bigre("apply", str(directory), "--wait", "30")  # the newcomer checks its certificate too

        # 5. the newcomer takes in the network's history, and its member is found everywhere
        founders_heads = coopaname.heads()
        eventually(functools.partial(_caught_up, url, founders_heads), what="scop-ti bootstrapped", within=90)
        for node in (coopaname, smart, oxalis):
            eventually(functools.partial(_finds_newcomer, node), what=f"found on {node.name}", within=60)
        decisions = coopaname.api("GET", "/api/v1/governance/decisions", token=coopaname.login()).json()["decisions"]
        admission = next(d for d in decisions if d["proposal"] == ref)
        assert admission["result"] == "accepted" and admission["subject"] == "scop-ti"
        assert load_config(directory).name == "scop-ti"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _call(url: str, method: str, path: str, data: object = None, token: str | None = None) -> tuple[int, object]:
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:500]
    except OSError:
        return 0, None


def _health(url: str) -> dict[str, Any] | None:
    status, body = _call(url, "GET", "/api/v1/health")
    return body if status == 200 and isinstance(body, dict) else None


def _login(url: str, email: str, password: str) -> str:
    status, body = _call(url, "POST", "/api/v1/auth/login", {"email": email, "password": password})
    assert status == 200 and isinstance(body, dict), body
    return str(body["token"])


def _has_proposal(node: Node, ref: str) -> bool:
    answer = node.api("GET", "/api/v1/governance/decisions", token=node.login())
    return answer.status == 200 and any(d["proposal"] == ref for d in answer.json()["decisions"])


def _admitted(node: Node) -> bool:
    return bool(node.peers().get("scop-ti", {}).get("status") == "member")


def _caught_up(url: str, heads: dict[str, int]) -> bool:
    health = _health(url)
    return health is not None and all(health["heads"].get(o, 0) >= s for o, s in heads.items() if o != "scop-ti")


def _finds_newcomer(node: Node) -> bool:
    return any(hit[1] == "scop-ti" for hit in node.found("Quatrieme"))
