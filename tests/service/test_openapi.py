"""The committed OpenAPI document is the running app's, and a valid OpenAPI 3.1 document."""

from __future__ import annotations

import json

import httpx
from openapi_spec_validator import validate

from service.cli import openapi_document
from tests.support.servers import ROOT

COMMITTED = ROOT / "openapi" / "openapi.json"


def test_committed_document_matches_the_app() -> None:
    assert COMMITTED.read_text() == openapi_document(), (
        "openapi/openapi.json is stale: run `make openapi` and commit it"
    )


def test_document_is_valid_openapi() -> None:
    validate(json.loads(COMMITTED.read_text()))


async def test_served_document_is_the_committed_one(anonymous: httpx.AsyncClient) -> None:
    served = (await anonymous.get("/schema/openapi.json")).json()
    committed = json.loads(COMMITTED.read_text())
    served.pop("servers"), committed.pop("servers")
    assert served == committed


def test_every_api_operation_documents_the_answers_every_api_route_can_give() -> None:
    """Authentication, the quota, outages and internal errors (each operation adds its own;
    tests/service/test_openapi_lint.py checks them against the app)."""
    document = json.loads(COMMITTED.read_text())
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            assert operation.get("operationId"), (method, path)
            for status in ("400", "401", "429", "500", "503"):
                assert status in operation["responses"], (method, path, status)


def test_the_committed_document_names_no_deployment() -> None:
    """Its server is `/` (where it is served from); the served copy names the public base URL."""
    document = json.loads(COMMITTED.read_text())
    assert [server["url"] for server in document["servers"]] == ["/"]
    assert "127.0.0.1" not in COMMITTED.read_text()


async def test_the_served_document_names_this_deployment(
    anonymous: httpx.AsyncClient, api_url: str
) -> None:
    served = (await anonymous.get("/schema/openapi.json")).json()
    assert [server["url"] for server in served["servers"]] == [api_url]
