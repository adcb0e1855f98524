"""bench/sends.py: whether the API offers audience recipients is read from its OpenAPI
document, following $refs, and only the send's request body counts."""

from __future__ import annotations

from typing import Any

import httpx

from bench import sends


def document(recipient: dict[str, Any], elsewhere: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "paths": {
            "/v1/Messages": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Send"}}
                        }
                    }
                }
            },
            "/v1/Audiences": {"post": {"requestBody": elsewhere or {}}},
        },
        "components": {
            "schemas": {
                "Send": {
                    "type": "object",
                    "properties": {
                        "to": {"type": "array", "items": {"$ref": "#/components/schemas/To"}}
                    },
                },
                "To": {"anyOf": [{"$ref": "#/components/schemas/Address"}, recipient]},
                "Address": {"type": "object", "properties": {"address": {"type": "string"}}},
            }
        },
    }


def test_an_audience_recipient_behind_refs_is_found() -> None:
    found = document({"type": "object", "properties": {"audienceId": {"type": "string"}}})
    send = found["paths"]["/v1/Messages"]["post"]["requestBody"]
    assert sends._refs(found, send, set())


def test_audience_ids_elsewhere_do_not_count() -> None:
    other = {"type": "object", "properties": {"audienceId": {"type": "string"}}}
    absent = document({"type": "object", "properties": {"profileId": {"type": "string"}}}, other)
    send = absent["paths"]["/v1/Messages"]["post"]["requestBody"]
    assert not sends._refs(absent, send, set())


async def test_the_apis_own_document_is_read(client: httpx.AsyncClient) -> None:
    # The same answer as reading the app's document by hand for the property in the send body.
    served = (await client.get("/schema/openapi.json")).json()
    schemas = served.get("components", {}).get("schemas", {})
    declared = any("audienceId" in s.get("properties", {}) for s in schemas.values())
    assert await sends.audiences_supported(client) == declared
