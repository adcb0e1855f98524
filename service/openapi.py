"""What the OpenAPI document says beyond the handlers' types: error answers and examples."""

from __future__ import annotations

from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from schemas.errors import ErrorBody
from schemas.messages import DryRunResult
from schemas.operations import CancelOperationAccepted, OperationErrorsPage
from schemas.webhooks import WebhookCreated
from service import error_codes
from service.error_codes import CATALOGUE, ErrorCode

# Every code of the catalogue with its one-line summary, as each error answer lists them.
ERROR_CODES: dict[int, str] = {code: entry.summary for code, entry in CATALOGUE.items()}

ERROR_CODES_DESCRIPTION = "Error codes: " + "; ".join(
    f"{code} {text}" for code, text in sorted(ERROR_CODES.items())
)


def _error_example(code: int, message: str, context: str | None) -> dict[str, Any]:
    return {
        "errors": [
            {
                "code": code,
                "message": message,
                "infoUrl": error_codes.info_url(code),
                "context": context,
            }
        ]
    }


def _error(
    description: str,
    error: ErrorCode,
    message: str | None = None,
    context: str | None = None,
) -> ResponseSpec:
    """An error answer whose example carries `error` with its catalogue message, or with the
    text a call site gives it."""
    example = _error_example(error.code, error.message if message is None else message, context)
    return ResponseSpec(
        data_container=ErrorBody,
        generate_examples=False,
        description=f"{description}. {ERROR_CODES_DESCRIPTION}",
        examples=[Example(summary=description, value=example)],
    )


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    400: _error("Invalid request", error_codes.INVALID_TO, context="$.to[3].address"),
    # The texts service/app.py answers with for Litestar's own 401, 413 and 500.
    401: _error("Missing or wrong credentials", error_codes.UNAUTHORIZED, "Authentication failed"),
    404: _error("Not found (or another account's)", error_codes.NOT_FOUND),
    413: _error("Request body too large", error_codes.BODY_TOO_LARGE, "Request body too large"),
    429: _error(
        "Over the account's request quota; retry after Retry-After",
        error_codes.TOO_MANY_REQUESTS,
        f"{error_codes.TOO_MANY_REQUESTS.message}; retry after 1 s",
    ),
    500: _error("Internal error", error_codes.INTERNAL, "Internal error"),
    503: _error(
        "PostgreSQL or Redis did not answer in time; retry after Retry-After",
        error_codes.SERVICE_UNAVAILABLE,
        "The service is unavailable (its database or Redis did not answer in time); retry "
        "after the Retry-After delay.",
    ),
}

IDEMPOTENCY_RESPONSES: dict[int, ResponseSpec] = {
    409: _error(
        "A request with this Idempotency-Key is still in flight; retry after Retry-After",
        error_codes.KEY_IN_FLIGHT,
    ),
    422: _error("This Idempotency-Key was used with another request body", error_codes.KEY_REUSED),
}

SENDER_EXISTS_RESPONSES: dict[int, ResponseSpec] = {
    409: _error(
        "This account has registered this address on this channel already",
        error_codes.SENDER_EXISTS,
    ),
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

SEARCH_EXAMPLE = Example(
    summary="Failed messages of one campaign in November",
    value={
        "status": "FAILED",
        "tags": {"campaign": "welcome"},
        "startDate": "2026-11-01T00:00:00Z",
        "endDate": "2026-12-01T00:00:00Z",
    },
)

SEEK_RESPONSES: dict[int, ResponseSpec] = {
    404: _error(
        "No message of this account has an attempt with this provider SID",
        error_codes.NOT_FOUND,
    ),
}

CANCEL_RESPONSES: dict[int, ResponseSpec] = {
    409: _error(
        "Nothing in the operation is left to cancel",
        error_codes.CANNOT_CANCEL,
        error_codes.CANNOT_CANCEL.summary,
    ),
}

CANCEL_ACCEPTED = ResponseSpec(
    data_container=CancelOperationAccepted,
    generate_examples=False,
    description="Accepted: the messages not yet handed to a provider are canceled and the "
    "operation is CANCELED. The `Location` header carries `resourceLocation`.",
    examples=[
        Example(
            value={
                "resourceId": "comms_operation_01m8h0jzqsechs3yv6kh2qxj5m",
                "resourceLocation": "https://comms.example/v1/Messages/Operations/"
                "comms_operation_01m8h0jzqsechs3yv6kh2qxj5m",
            }
        )
    ],
)

OPERATION_ERRORS_PAGE = ResponseSpec(
    data_container=OperationErrorsPage,
    generate_examples=False,
    description="A page of the operation's FAILED and UNDELIVERED messages, newest first, and "
    "how many of them carry each error code (over the whole operation, on every page).",
    examples=[
        Example(
            value={
                "errors": [
                    {
                        "messageId": "comms_message_01m8h0jzqsechs3yv6kh2qxj5n",
                        "status": "FAILED",
                        "to": [{"address": "+15005550001", "channel": "PHONE"}],
                        "error": {
                            "code": 21211,
                            "message": "Invalid 'To' Phone Number",
                            "infoUrl": "https://www.twilio.com/docs/api/errors/21211",
                        },
                        "updatedAt": "2026-11-25T10:00:01.123Z",
                    }
                ],
                "counts": [{"code": 21211, "count": 3}, {"code": 30003, "count": 1}],
                "pagination": {"next": None, "self": "eyJ2IjoyLCJxIjoiLi4uIn0"},
            }
        )
    ],
)

DRY_RUN_RESULT = ResponseSpec(
    data_container=DryRunResult,
    generate_examples=False,
    description="(ext) With `dryRun=true`: what the send would do. Nothing is stored or sent.",
    examples=[
        Example(
            value={
                "total": 1,
                "queued": 1,
                "scheduled": 0,
                "failed": 0,
                "suppressed": 0,
                "segments": 1,
                "estimatedCompletionAt": "2026-11-25T10:00:01.000Z",
                "senders": [
                    {
                        "from": {"address": "+15017122661", "channel": "SMS"},
                        "mps": 1.0,
                        "backlog": 0,
                        "messages": 1,
                        "segments": 1,
                        "estimatedCompletionAt": "2026-11-25T10:00:01.000Z",
                    }
                ],
                "recipients": [
                    {
                        "position": 0,
                        "to": {"address": "+15558675310", "channel": "PHONE"},
                        "from": {"address": "+15017122661", "channel": "SMS"},
                        "status": "QUEUED",
                        "text": "Hello Ada!",
                        "media": None,
                        "contentId": None,
                        "tags": {"campaign": "welcome"},
                        "encoding": "GSM-7",
                        "segments": 1,
                        "scheduledFor": None,
                        "suppressed": False,
                        "error": None,
                    }
                ],
            }
        )
    ],
)

WEBHOOK_CREATE_RESPONSES: dict[int, ResponseSpec] = {
    400: _error(
        "Invalid endpoint: not an https URL of a public host, an unknown event type, or the "
        "account has 20 endpoints already",
        error_codes.INVALID_URL,
        "Invalid URL: refused: private or reserved address",
        "$.url",
    ),
    201: ResponseSpec(
        data_container=WebhookCreated,
        generate_examples=False,
        description="Created; the signing secret is shown this once. `Location` is its URL.",
        examples=[
            Example(
                value={
                    "id": "comms_webhook_01m8h0jzqsechs3yv6kh2qxj5m",
                    "url": "https://hooks.example.com/comms",
                    "eventTypes": [
                        "com.twilio.comms-api.message.delivered",
                        "com.twilio.comms-api.operation.completed",
                    ],
                    "createdAt": "2026-11-25T10:00:00.123Z",
                    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                }
            )
        ],
    ),
}
