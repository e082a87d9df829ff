"""A client generated from the node's OpenAPI document (openapi-python-client) creates an offer with typed fields
against a running node and reads it back: the document is good enough to program against."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.node.conftest import Api, Client

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
GENERATE = ("--meta", "none", "--config", "config.yaml")


@pytest.fixture
def backend() -> str:
    return "sqlite"


async def test_a_generated_client_creates_and_reads_an_offer(api: Api, client: Client, tmp_path: Path) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    (tmp_path / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "config.yaml").write_text("package_name_override: bigre_client\npost_hooks: []\n", encoding="utf-8")
    generated = subprocess.run(  # noqa: ASYNC221 - a few seconds, once; the server is not needed meanwhile
        [str(GENERATOR), "generate", "--path", "openapi.json", "--output-path", "bigre_client", *GENERATE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout + generated.stderr

    sys.path.insert(0, str(tmp_path))
    try:
        package: Any = importlib.import_module("bigre_client")
        create_offer: Any = importlib.import_module("bigre_client.api.offers.create_offer")
        get_offer: Any = importlib.import_module("bigre_client.api.offers.get_offer")
        list_offers: Any = importlib.import_module("bigre_client.api.offers.list_offers")
        models: Any = importlib.import_module("bigre_client.models")

        await api.user("menuisiere@example.org")
        base_url = str(client.make_url("")).rstrip("/")
        member = package.AuthenticatedClient(base_url=base_url, token=api.tokens["menuisiere@example.org"])
        offer_input = models.OfferInput(
            purpose=models.OfferInputPurpose.OFFER,
            title="Escalier sur mesure",
            trades=["H2206"],
            place="Montreuil",
            remote=False,
            from_=dt.date(2026, 3, 1),
            effort_days=12,
            reciprocity=models.OfferInputReciprocityType0.PAID,
            visibility=models.OfferInputVisibilityType0.PUBLIC,
        )
        async with member as http:
            created = await create_offer.asyncio_detailed(client=http, body=offer_input)
            assert created.status_code == 201, created.content
            offer = created.parsed
            assert isinstance(offer, models.Offer)
            assert offer.title == "Escalier sur mesure" and offer.effort_days == 12 and offer.remote is False
            assert offer.from_ == dt.date(2026, 3, 1)
            assert offer.place.town == "Montreuil" and offer.trades[0].rome == "H2206"
            assert offer.mine is True

            again = await get_offer.asyncio(client=http, id=offer.id)
            assert isinstance(again, models.Offer) and again.id == offer.id and again.title == offer.title

            refused = await create_offer.asyncio_detailed(
                client=http, body=models.OfferInput(purpose=models.OfferInputPurpose.OFFER, title="x" * 141)
            )
            assert refused.status_code == 422
            assert isinstance(refused.parsed, models.Error) and refused.parsed.error.code == "invalid_input"

        async with package.Client(base_url=base_url) as anonymous:
            page = await list_offers.asyncio(client=anonymous)
            assert isinstance(page, models.OfferPage) and [o.id for o in page.items] == [offer.id]
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "bigre_client" or m.startswith("bigre_client.")]:
            del sys.modules[name]
