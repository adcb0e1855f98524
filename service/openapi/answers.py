"""Each operation's answers beyond its success type: the error codes it can answer (from the
catalogue, service/error_codes.py), grouped by HTTP status with an example each, and the
headers of each answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from schemas import common, errors
from service import error_codes, request_ids
from service.error_codes import ErrorCode
from service.openapi import examples
from service.openapi.components import REF, doc_link
from service.text_guard import BodyTimeout

# What each HTTP status of an error answer means, before its codes.
STATUS_TEXT: dict[int, str] = {
    400: "The request is invalid. Every problem found is listed (at most 100), each with the "
    "JSON path of its field in `context`.",
    401: "The credentials are missing or wrong (HTTP Basic: AccountSid:AuthToken or "
    "ApiKeySid:ApiKeySecret).",
    404: "Not found: this account has no such resource (another account's answers the same).",
    408: "The request body did not arrive in time; the connection is closed.",
    409: "Conflict with the resource's current state.",
    413: "The request body is larger than the configured limit (8 MiB by default).",
    415: "The request body's Content-Type is not one the route takes.",
    422: "The request conflicts with an earlier one.",
    429: "Over the account's request quota: retry after `Retry-After` seconds.",
    500: "Internal error. The answer carries nothing of its cause.",
    503: "PostgreSQL (or Redis, where a route cannot do without it) did not answer in time: "
    "retry after `Retry-After` seconds.",
}

# The JSON path an example of the code's answer shows in `context`.
EXAMPLE_CONTEXT: dict[int, str] = {
    error_codes.INVALID_TO.code: "$.to[3].address",
    error_codes.INVALID_FROM.code: "$.from.address",
    error_codes.BODY_REQUIRED.code: "$.content",
    error_codes.FROM_REQUIRED.code: "$.from",
    error_codes.TO_REQUIRED.code: "$.to",
    error_codes.BODY_TOO_LONG.code: "$.content.text",
    error_codes.TOO_MANY_MEDIA.code: "$.content.media",
    error_codes.SCHEDULE_TOO_SOON.code: "$.schedule.sendAt[0]",
    error_codes.SCHEDULE_TOO_LATE.code: "$.schedule.sendAt[0]",
    error_codes.INVALID_PAGE_TOKEN.code: "$.pageToken",
    error_codes.INVALID_URL.code: "$.url",
    error_codes.TOO_MANY_WEBHOOKS.code: "$.url",
    error_codes.UNKNOWN_EVENT_TYPE.code: "$.eventTypes[0]",
    error_codes.KEY_IN_FLIGHT.code: "$.headers.Idempotency-Key",
    error_codes.KEY_REUSED.code: "$.headers.Idempotency-Key",
}
# What the answer says when it is not the catalogue's message (service/errors.py's
# TooManyRequests; service/app.py's answers to Litestar's 413 and to an unhandled error).
EXAMPLE_MESSAGE: dict[int, str] = {
    error_codes.TOO_MANY_REQUESTS.code: f"{error_codes.TOO_MANY_REQUESTS.message}; retry after 1 s",
    error_codes.BODY_TOO_LARGE.code: "Request body too large",
    error_codes.INTERNAL.code: "Internal error",
}


@dataclass(frozen=True)
class Header:
    """A response header as the document declares it."""

    description: str
    example: str | int
    required: bool = True
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})

    def declared(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "required": self.required,
            "schema": dict(self.schema),
            "example": self.example,
        }


REQUEST_ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$"
REQUEST_ID_EXAMPLE = "req_01m8h0jzqsechs3yv6kh2qxj5s"
# Every answer's (service/request_ids.py): declared on each one.
REQUEST_ID = Header(
    "This request's id: the caller's own `X-Request-Id` when it is 1..128 of `[A-Za-z0-9._:-]`, "
    "else one the service made (`req_…`). Every log line of the request, and the work it "
    "starts (the dispatch, the provider calls, the events), carries it.",
    REQUEST_ID_EXAMPLE,
    schema={"type": "string", "pattern": REQUEST_ID_PATTERN},
)
REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": request_ids.HEADER,
    "in": "header",
    "required": False,
    "description": "Your id for this request (1..128 of `[A-Za-z0-9._:-]`), to find it in the "
    "service's logs; the answer repeats it. Without one, or with a malformed one, the service "
    "makes one.",
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
    "example": "checkout-7f3a9c",
}

# Headers declared once, in components/headers.
SHARED_HEADERS: dict[str, Header] = {
    request_ids.HEADER: REQUEST_ID,
    "Retry-After": Header(
        "Seconds to wait before trying again.", 1, schema={"type": "integer", "minimum": 0}
    ),
    "WWW-Authenticate": Header("The authentication scheme: HTTP Basic.", 'Basic realm="comms"'),
}
# The headers an error answer with this code carries (beyond every answer's X-Request-Id).
CODE_HEADERS_DECLARED = ("Retry-After", "WWW-Authenticate")
CODE_HEADERS: dict[int, tuple[str, ...]] = {
    error_codes.UNAUTHORIZED.code: ("WWW-Authenticate",),
    error_codes.TOO_MANY_REQUESTS.code: ("Retry-After",),
    error_codes.SERVICE_UNAVAILABLE.code: ("Retry-After",),
    error_codes.KEY_IN_FLIGHT.code: ("Retry-After",),
}


def _location(what: str, path: str) -> Header:
    return Header(f"{what} URL.", f"{examples.BASE_URL}{path}", schema=_URI)


_URI = {"type": "string", "format": "uri"}
_OPERATION_URL = Header(
    "The operation's URL (as `operationLocation`).", examples.OPERATION_URL, schema=_URI
)
SEND_HEADERS: dict[str, Header] = {
    "Location": _OPERATION_URL,
    "operation-location": _OPERATION_URL,
    "operation-id": Header(
        "The operation's id (as `operationId`).",
        examples.OPERATION_ID,
        schema={"type": "string", "pattern": common.typeid_pattern("comms_operation")},
    ),
    "resource-location": Header(
        "Where the operation's messages are listed: `/v1/Messages?operationId=…`.",
        f"{examples.BASE_URL}/v1/Messages?operationId={examples.OPERATION_ID}",
        schema=_URI,
    ),
    "Idempotent-Replayed": Header(
        "(ext) `true` when this answer replays the first one for the same Idempotency-Key and "
        "body; absent otherwise.",
        "true",
        required=False,
        schema={"type": "string", "enum": ["true"]},
    ),
}


@dataclass(frozen=True)
class Answers:
    """What an operation answers beyond its success type."""

    # The codes of its own, beyond those every route of its kind answers (see _route_errors).
    errors: tuple[ErrorCode, ...] = ()
    # Headers of its success answer.
    headers: Mapping[str, Header] = field(default_factory=dict)
    # The success answer's example, when its type has none (text, a stream).
    example: Any = None
    # JSON paths of its own for the examples of these codes.
    contexts: Mapping[int, str] = field(default_factory=dict)
    # The success answer's description, when the handler gives none.
    success: str | None = None


_SEND_ERRORS = (
    error_codes.INVALID_TO,
    error_codes.UNKNOWN_PROFILE,
    error_codes.UNKNOWN_AUDIENCE,
    error_codes.INVALID_FROM,
    error_codes.BODY_REQUIRED,
    error_codes.FROM_REQUIRED,
    error_codes.TO_REQUIRED,
    error_codes.BODY_TOO_LONG,
    error_codes.TOO_MANY_MEDIA,
    error_codes.SCHEDULE_TOO_SOON,
    error_codes.SCHEDULE_TOO_LATE,
    error_codes.INVALID_URL,
)
_STATUS_CALLBACK = {
    error_codes.INVALID_URL.code: "$.statusCallback",
    error_codes.UNKNOWN_PROFILE.code: "$.to[0].profileId",
    error_codes.UNKNOWN_AUDIENCE.code: "$.to[0].audienceId",
}
_FOUND = (error_codes.NOT_FOUND,)
_PAGED = (error_codes.INVALID_PAGE_TOKEN,)
_FOUND_AND_PAGED = (error_codes.NOT_FOUND, error_codes.INVALID_PAGE_TOKEN)
_PROFILE_CONTEXTS = {
    error_codes.INVALID_TO.code: "$.addresses[0].address",
    error_codes.PROFILE_EXISTS.code: "$.externalId",
}

ANSWERS: dict[str, Answers] = {
    "SendMessages": Answers(
        errors=(*_SEND_ERRORS, error_codes.KEY_IN_FLIGHT, error_codes.KEY_REUSED),
        headers=SEND_HEADERS,
        contexts=_STATUS_CALLBACK,
    ),
    "DryRunMessages": Answers(errors=_SEND_ERRORS, contexts=_STATUS_CALLBACK),
    "ListMessages": Answers(errors=_PAGED),
    "SearchMessages": Answers(errors=_PAGED),
    "SeekMessage": Answers(
        errors=_FOUND,
        headers={
            "Location": Header(
                "The message's URL.",
                f"{examples.BASE_URL}/v1/Messages/{examples.MESSAGE_ID}",
                schema=_URI,
            )
        },
    ),
    "FetchMessage": Answers(errors=_FOUND),
    "ListOperations": Answers(errors=_PAGED),
    "FetchOperation": Answers(errors=_FOUND),
    "CancelOperation": Answers(
        errors=(error_codes.NOT_FOUND, error_codes.CANNOT_CANCEL),
        headers={"Location": _OPERATION_URL},
    ),
    "ListOperationErrors": Answers(errors=_FOUND_AND_PAGED),
    "StreamOperationEvents": Answers(
        errors=_FOUND, contexts={error_codes.INVALID_FIELD.code: "$.headers.Last-Event-ID"}
    ),
    "ListStatusCallbackDeliveries": Answers(errors=_FOUND_AND_PAGED),
    "RedeliverStatusCallbackDelivery": Answers(errors=_FOUND),
    "CreateSender": Answers(
        errors=(error_codes.INVALID_FROM, error_codes.SENDER_EXISTS),
        headers={"Location": _location("The sender's", f"/v1/Senders/{examples.SENDER_ID}")},
        contexts={error_codes.INVALID_FROM.code: "$.address"},
    ),
    "ListSenders": Answers(errors=_PAGED),
    "FetchSender": Answers(errors=_FOUND),
    "DeleteSender": Answers(errors=_FOUND),
    "CreateSenderPool": Answers(
        headers={
            "Location": _location("The sender pool's", f"/v1/SenderPools/{examples.SENDER_POOL_ID}")
        }
    ),
    "ListSenderPools": Answers(errors=_PAGED),
    "FetchSenderPool": Answers(errors=_FOUND),
    "UpdateSenderPool": Answers(errors=_FOUND),
    "DeleteSenderPool": Answers(errors=_FOUND),
    "CreateAudience": Answers(
        errors=(error_codes.INVALID_FILTER,),
        headers={"Location": _location("The audience's", f"/v1/Audiences/{examples.AUDIENCE_ID}")},
        contexts={error_codes.INVALID_FILTER.code: "$.filter['attributes.age']['gte']"},
    ),
    "ListAudiences": Answers(errors=_PAGED),
    "FetchAudience": Answers(errors=_FOUND),
    "DeleteAudience": Answers(errors=_FOUND),
    "AddAudienceMembers": Answers(
        errors=(
            error_codes.NOT_FOUND,
            error_codes.UNKNOWN_PROFILE,
            error_codes.FILTER_AUDIENCE_MEMBERS,
        ),
        contexts={error_codes.UNKNOWN_PROFILE.code: "$.profileIds[0]"},
    ),
    "RemoveAudienceMembers": Answers(
        errors=(error_codes.NOT_FOUND, error_codes.FILTER_AUDIENCE_MEMBERS)
    ),
    "ListAudienceMembers": Answers(errors=_FOUND_AND_PAGED),
    "CreateSuppression": Answers(
        errors=(error_codes.INVALID_TO,),
        headers={"Location": _location("The suppression's", "/v1/Suppressions/+15558675310")},
        contexts={error_codes.INVALID_TO.code: "$.address"},
    ),
    "ListSuppressions": Answers(errors=_PAGED),
    "DeleteSuppression": Answers(errors=_FOUND),
    "CreateProfile": Answers(
        errors=(error_codes.INVALID_TO, error_codes.PROFILE_EXISTS),
        headers={"Location": _location("The profile's", f"/v1/Profiles/{examples.PROFILE_ID}")},
        contexts=_PROFILE_CONTEXTS,
    ),
    "ListProfiles": Answers(errors=_PAGED),
    "FetchProfile": Answers(errors=_FOUND),
    "UpdateProfile": Answers(
        errors=(error_codes.NOT_FOUND, error_codes.INVALID_TO, error_codes.PROFILE_EXISTS),
        contexts=_PROFILE_CONTEXTS,
    ),
    "DeleteProfile": Answers(errors=_FOUND),
    "UpsertProfile": Answers(
        errors=(error_codes.INVALID_TO,),
        headers={"Location": _location("The profile's", f"/v1/Profiles/{examples.PROFILE_ID}")},
        contexts=_PROFILE_CONTEXTS,
    ),
    "ImportProfiles": Answers(
        errors=(error_codes.IMPORT_TOO_MANY_ROWS, error_codes.IMPORT_MEDIA_TYPE),
        headers={
            "Location": _location(
                "The import's", f"/v1/Profiles/Imports/{examples.PROFILE_IMPORT_ID}"
            )
        },
        contexts={
            error_codes.INVALID_FIELD.code: "$.columns[2]",
            error_codes.IMPORT_TOO_MANY_ROWS.code: "$",
            error_codes.IMPORT_MEDIA_TYPE.code: "$.headers.Content-Type",
        },
    ),
    "FetchProfileImport": Answers(errors=_FOUND),
    "CreateWebhook": Answers(
        errors=(
            error_codes.INVALID_URL,
            error_codes.TOO_MANY_WEBHOOKS,
            error_codes.UNKNOWN_EVENT_TYPE,
        ),
        headers={"Location": _location("The endpoint's", f"/v1/Webhooks/{examples.WEBHOOK_ID}")},
    ),
    "ListWebhooks": Answers(errors=_PAGED),
    "FetchWebhook": Answers(errors=_FOUND),
    "DeleteWebhook": Answers(errors=_FOUND),
    "ListWebhookDeliveries": Answers(errors=_FOUND_AND_PAGED),
    "RedeliverWebhookDelivery": Answers(errors=_FOUND),
    "Healthz": Answers(),
    # Its 503 is the readiness answer (a Health body), declared by the handler.
    "Readyz": Answers(),
    "Metrics": Answers(
        errors=(error_codes.SERVICE_UNAVAILABLE,),
        success="Prometheus text format.",
        example="# HELP comms_requests_total Total requests\n"
        "# TYPE comms_requests_total counter\n"
        'comms_requests_total{method="POST",path="/v1/Messages",status_code="202"} 42.0\n',
    ),
}


def route_errors(operation: Mapping[str, Any]) -> list[tuple[int, ErrorCode]]:
    """The (status, code) answers every route of this kind can give, whatever it does.

    Any request may be refused for a NUL character in its query (service/text_guard.py) or
    fail inside (500). An API route (Basic auth) checks credentials and the account's quota
    and needs PostgreSQL for both. A route with a body refuses one over the size limit and
    one that does not arrive in time (408).
    """
    found = [(400, error_codes.INVALID_FIELD), (500, error_codes.INTERNAL)]
    if operation.get("security"):
        found += [
            (401, error_codes.UNAUTHORIZED),
            (429, error_codes.TOO_MANY_REQUESTS),
            (503, error_codes.SERVICE_UNAVAILABLE),
        ]
    if "requestBody" in operation:
        found += [(408, error_codes.INVALID_FIELD), (413, error_codes.BODY_TOO_LARGE)]
    return found


def operation_errors(operation: Mapping[str, Any]) -> dict[int, list[ErrorCode]]:
    """Every error answer of an operation: its HTTP statuses and, for each, its codes."""
    answers = ANSWERS[operation["operationId"]]
    pairs = route_errors(operation)
    pairs += [(_http_status(entry), entry) for entry in answers.errors]
    grouped: dict[int, list[ErrorCode]] = {}
    for status, entry in pairs:
        if entry not in grouped.setdefault(status, []):
            grouped[status].append(entry)
    return dict(sorted(grouped.items()))


def _http_status(entry: ErrorCode) -> int:
    if entry.http_status is None:
        raise ValueError(f"code {entry.code} is never an HTTP answer")
    return entry.http_status


def complete_operation(operation: dict[str, Any], schemas: Mapping[str, Any]) -> None:
    """An operation of Litestar's document, with its examples, headers and error answers."""
    answers = ANSWERS[operation["operationId"]]
    for parameter in operation.get("parameters", []):
        parameter["schema"] = _without_null(parameter.get("schema", {}))
    operation.setdefault("parameters", []).append(
        {"$ref": f"#/components/parameters/{request_ids.HEADER}"}
    )
    body = operation.get("requestBody")
    if body is not None:
        for media in body.get("content", {}).values():
            component = _component_of(media.get("schema", {}), schemas)
            if component is not None:
                media.setdefault("examples", _examples_of(component))
                body.setdefault("description", component.get("description", ""))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, response in responses.items():
        for media in (response.get("content") or {}).values():
            for example in media.get("examples", {}).values():
                example.pop("id", None)  # Litestar writes the key it took from Example.id
        if status.startswith(("2", "3")):
            _complete_success(response, answers, schemas)
    grouped = operation_errors(operation)
    for code_status, codes in grouped.items():
        # Litestar's own 400 (its validation error shape) and the handler's are replaced.
        responses[str(code_status)] = _error_response(code_status, codes, answers.contexts)
    for response in responses.values():
        response["headers"] = {
            request_ids.HEADER: {"$ref": f"#/components/headers/{request_ids.HEADER}"},
            **response.get("headers", {}),
        }
    operation["responses"] = dict(sorted(responses.items()))
    operation["x-error-codes"] = sorted({e.code for codes in grouped.values() for e in codes})


def _complete_success(
    response: dict[str, Any], answers: Answers, schemas: Mapping[str, Any]
) -> None:
    if answers.success is not None:
        response["description"] = answers.success
    for media in (response.get("content") or {}).values():
        component = _component_of(media.get("schema", {}), schemas)
        if "examples" in media:
            continue
        if component is not None and "examples" in component:
            media["examples"] = _examples_of(component)
        elif answers.example is not None:
            media["examples"] = {"example": {"value": answers.example}}
    if answers.headers:
        ours = {name.lower() for name in answers.headers}
        response["headers"] = {
            **{k: v for k, v in response.get("headers", {}).items() if k.lower() not in ours},
            **{name: header.declared() for name, header in answers.headers.items()},
        }


def _without_null(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A parameter's schema without Litestar's `oneOf [..., null]` (a query has no null)."""
    arms = [a for a in schema.get("oneOf", []) if a != {"type": "null"}]
    shaped = {k: v for k, v in schema.items() if k != "oneOf"}
    if len(arms) == 1:
        return {**arms[0], **shaped}
    return shaped


def _component_of(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> Any:
    ref = schema.get("$ref", "")
    return schemas.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/components/schemas/") else None


def _examples_of(component: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "example" if i == 0 else f"example-{i + 1}": {"value": value}
        for i, value in enumerate(component.get("examples", []))
    }


def _error_response(
    status: int, codes: list[ErrorCode], contexts: Mapping[int, str]
) -> dict[str, Any]:
    listed = "\n".join(
        f"- [{entry.code}]({doc_link(entry.code)}) {entry.summary}" for entry in codes
    )
    response: dict[str, Any] = {
        "description": f"{STATUS_TEXT[status]}\n\nError codes:\n{listed}",
        "content": {
            "application/json": {
                "schema": {"$ref": REF.format(name="ErrorBody")},
                "examples": {
                    str(entry.code): {
                        "summary": f"{entry.code} {entry.summary}",
                        "value": error_example(entry, contexts, status),
                    }
                    for entry in codes
                },
            }
        },
    }
    headers: dict[str, Any] = {}
    for name in CODE_HEADERS_DECLARED:
        carried = [name in CODE_HEADERS.get(entry.code, ()) for entry in codes]
        if all(carried):
            headers[name] = {"$ref": f"#/components/headers/{name}"}
        elif any(carried):
            headers[name] = {**SHARED_HEADERS[name].declared(), "required": False}
    if headers:
        response["headers"] = headers
    return response


def error_example(entry: ErrorCode, contexts: Mapping[int, str], status: int) -> dict[str, Any]:
    context = contexts.get(entry.code, EXAMPLE_CONTEXT.get(entry.code))
    message = EXAMPLE_MESSAGE.get(entry.code, entry.message)
    if status == 408:  # the one 408 (service/text_guard.py)
        context, message = "$", BodyTimeout.default_message
    body = errors.ErrorBody(
        errors=[
            errors.ErrorItem(
                code=entry.code,
                message=message,
                info_url=error_codes.info_url(entry.code, examples.BASE_URL),
                context=context,
            )
        ]
    )
    result: dict[str, Any] = msgspec.to_builtins(body)
    return result
