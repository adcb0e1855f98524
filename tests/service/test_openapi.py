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


def test_every_api_operation_documents_its_errors() -> None:
    document = json.loads(COMMITTED.read_text())
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            assert operation.get("operationId"), (method, path)
            for status in ("400", "401", "404", "500"):
                assert status in operation["responses"], (method, path, status)
