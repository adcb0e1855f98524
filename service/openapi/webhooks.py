"""The document's `webhooks`: what a webhook endpoint or a statusCallback receives (a
CloudEvent, signed the Standard Webhooks way, service/webhooks/signing.py) and what its answer
means."""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from schemas import common, events
from schemas.events import EVENT_DESCRIPTIONS, EVENT_TYPES
from service.openapi import examples
from service.openapi.components import REF, event_schema

WEBHOOK_PARAMETERS: dict[str, Any] = {
    "webhook-id": {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The delivery's id: the same on every try and on redelivery, so a "
        "receiver can drop repeats.",
        "schema": {"type": "string", "pattern": common.typeid_pattern("comms_delivery")},
        "example": examples.DELIVERY_ID,
    },
    "webhook-timestamp": {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "When this try was signed, in seconds since the Unix epoch; refuse "
        "deliveries far from your clock to stop replays.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "example": "1795600801",
    },
    "webhook-signature": {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}."
        "{body}`, keyed by the base64-decoded part of the secret after `whsec_` (the "
        "endpoint's `secret`, or the send's `statusCallbackSecret`): Standard Webhooks.",
        "schema": {"type": "string", "pattern": "^v1,[A-Za-z0-9+/]+=*$"},
        "example": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    },
}

_WEBHOOK_RESPONSES = {
    "2XX": {"description": "Received: the delivery SUCCEEDED and is not sent again."},
    "default": {
        "description": "Any other answer, or none in time: the delivery is tried again with "
        "exponential backoff for 24 hours (`Retry-After` on a 429 or 503 is honoured); every "
        "try is in the delivery log."
    },
}


def _webhook(
    operation_id: str, summary: str, description: str, schema: str, values: list[Any]
) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "tags": ["Webhooks"],
            "security": [],
            "parameters": [
                {"$ref": f"#/components/parameters/{name}"} for name in WEBHOOK_PARAMETERS
            ],
            "requestBody": {
                "required": True,
                "description": "The event, CloudEvents 1.0 in JSON (structured mode).",
                "content": {
                    "application/cloudevents+json": {
                        "schema": {"$ref": REF.format(name=schema)},
                        "examples": {
                            "example" if i == 0 else f"example-{i + 1}": {"value": value}
                            for i, value in enumerate(values)
                        },
                    }
                },
            },
            "responses": copy.deepcopy(_WEBHOOK_RESPONSES),
        }
    }


def webhooks() -> dict[str, Any]:
    hooks = {}
    for event_type in EVENT_TYPES:
        short = event_type.removeprefix(events.EVENT_TYPE_PREFIX)
        hooks[event_type] = _webhook(
            "On" + "".join(part.title() for part in short.split(".")),
            short,
            f"{EVENT_DESCRIPTIONS[event_type]} POSTed to every webhook endpoint whose "
            "`eventTypes` include it, and to the operation's statusCallback.",
            event_schema(event_type),
            [msgspec.to_builtins(examples.event_example(event_type))],
        )
    hooks["statusCallback"] = _webhook(
        "OnStatusCallback",
        "statusCallback (ext)",
        "Every event of one operation, POSTed to the `statusCallback` URL of its send, signed "
        "with the `statusCallbackSecret` of the send's answer; tried again and logged as "
        "webhook deliveries are (GET /v1/Messages/Operations/{operationId}/Deliveries).",
        "CloudEvent",
        [
            msgspec.to_builtins(e)
            for e in (examples.MESSAGE_DELIVERED, examples.OPERATION_COMPLETED)
        ],
    )
    return hooks
