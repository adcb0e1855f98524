"""What the OpenAPI document says beyond the handlers' types: error answers and examples."""

from __future__ import annotations

from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from schemas.errors import ErrorBody
from service.errors import OWN_CODES

_TWILIO_CODES = {
    20003: "Authentication failed",
    20403: "Provider callback signature invalid",
    20404: "Not found",
    21211: "Invalid 'To' phone number",
    21212: "Invalid 'From' phone number",
    21602: "Message body is required",
    21603: "'From' is required",
    21604: "'To' is required",
    21617: "Message body exceeds 1,600 characters",
    21623: "Too many media items",
    30409: "Nothing left to cancel",
    35114: "Schedule time is in the past",
    35115: "Schedule time is more than 35 days ahead",
}

ERROR_CODES_DESCRIPTION = "Error codes: " + "; ".join(
    f"{code} {text}" for code, text in sorted({**_TWILIO_CODES, **OWN_CODES}.items())
)


def _error_example(code: int, message: str, context: str | None) -> dict[str, Any]:
    return {
        "errors": [
            {
                "code": code,
                "message": message,
                "infoUrl": f"https://www.twilio.com/docs/api/errors/{code}",
                "context": context,
            }
        ]
    }


def _error(description: str, code: int, message: str, context: str | None = None) -> ResponseSpec:
    return ResponseSpec(
        data_container=ErrorBody,
        generate_examples=False,
        description=f"{description}. {ERROR_CODES_DESCRIPTION}",
        examples=[Example(summary=description, value=_error_example(code, message, context))],
    )


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    400: _error("Invalid request", 21211, "Invalid 'To' phone number", "$.to[3].address"),
    401: _error("Missing or wrong credentials", 20003, "Authentication failed"),
    404: _error("Not found (or another account's)", 20404, "The resource was not found."),
    413: _error("Request body too large", 90003, "Request body too large"),
    500: _error("Internal error", 90500, "Internal error"),
    503: _error("Unavailable; retry after Retry-After", 90503, "Unavailable"),
}

SEND_EXAMPLE = Example(
    summary="Two recipients, personalised text",
    value={
        "to": [
            {"address": "+15558675310", "channel": "PHONE", "variables": {"name": "Ada"}},
            {"address": "+15558675311", "channel": "PHONE"},
        ],
        "content": {"text": "Hello {{ name | default: 'there' }}!"},
        "from": {"address": "+15017122661", "channel": "SMS"},
        "tags": {"campaign": "welcome"},
    },
)
