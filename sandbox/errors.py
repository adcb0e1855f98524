"""Twilio's error codes as the sandbox uses them, and the one place they become HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("sandbox")


class ErrorKind(msgspec.Struct, frozen=True):
    """HTTP status the code is answered with (synchronous errors) and Twilio's default text."""

    status: int
    message: str


# Codes answered synchronously (HTTP status != 0) or reported later on a message (status 0).
# Texts follow https://www.twilio.com/docs/api/errors/<code>.
CATALOG: Mapping[int, ErrorKind] = {
    20001: ErrorKind(400, "Invalid parameter"),
    20003: ErrorKind(401, "Authenticate"),
    20004: ErrorKind(405, "Method not allowed"),
    20404: ErrorKind(404, "The requested resource was not found"),
    20429: ErrorKind(429, "Too Many Requests"),
    20500: ErrorKind(500, "Internal Server Error"),
    20503: ErrorKind(503, "Service Unavailable"),
    21211: ErrorKind(400, "Invalid 'To' Phone Number"),
    21212: ErrorKind(400, "Invalid 'From' Phone Number"),
    21408: ErrorKind(400, "Permission to send an SMS has not been enabled for the region"),
    21602: ErrorKind(400, "Message body is required."),
    21603: ErrorKind(400, "A 'From' phone number is required."),
    21604: ErrorKind(400, "A 'To' phone number is required."),
    21606: ErrorKind(
        400, "The 'From' phone number provided is not a valid message-capable Twilio phone number."
    ),
    21609: ErrorKind(400, "Invalid StatusCallback url"),
    21610: ErrorKind(400, "Attempt to send to unsubscribed recipient"),
    21611: ErrorKind(400, "This 'From' number has exceeded the maximum number of queued messages"),
    21612: ErrorKind(400, "The 'To' phone number is not currently reachable via SMS."),
    21614: ErrorKind(400, "'To' number is not a valid mobile number"),
    21617: ErrorKind(400, "The concatenated message body exceeds the 1600 character limit."),
    21619: ErrorKind(400, "A Message Body, Media URL or Content SID is required"),
    21620: ErrorKind(400, "Invalid media URL(s)"),
    21623: ErrorKind(400, "Number of media files exceeds allowed limit"),
    21624: ErrorKind(400, "Invalid validity period value"),
    21654: ErrorKind(400, "ContentSid Required"),
    21655: ErrorKind(400, "The ContentSid is Invalid"),
    21656: ErrorKind(400, "The ContentVariables Parameter is invalid"),
    21701: ErrorKind(400, "The Messaging Service does not exist"),
    21705: ErrorKind(400, "The Messaging Service is invalid"),
    21910: ErrorKind(400, "Invalid From and To pair. From and To should be of the same channel"),
    11200: ErrorKind(0, "HTTP retrieval failure"),
    11751: ErrorKind(0, "Media Message - Media exceeds messaging provider size limit"),
    12300: ErrorKind(0, "Invalid Content-Type"),
    30001: ErrorKind(0, "Queue overflow"),
    30003: ErrorKind(0, "Unreachable destination handset"),
    30005: ErrorKind(0, "Unknown destination handset"),
    30006: ErrorKind(0, "Landline or unreachable carrier"),
    30007: ErrorKind(0, "Message filtered"),
    30008: ErrorKind(0, "Unknown error"),
    30036: ErrorKind(0, "Validity Period Expired"),
    50000: ErrorKind(400, "Invalid request"),
    50353: ErrorKind(409, "Conversation with provided unique name already exists"),
    50416: ErrorKind(409, "A binding for this participant and proxy address already exists"),
    50433: ErrorKind(409, "Participant already exists"),
    63003: ErrorKind(0, "Channel could not find To address"),
    63016: ErrorKind(
        0,
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template.",
    ),
}


def more_info(code: int) -> str:
    return f"https://www.twilio.com/docs/errors/{code}"


def error_text(code: int) -> str:
    """Twilio's default description of a code (used for `error_message` on messages)."""
    kind = CATALOG.get(code)
    return kind.message if kind else "Unknown error"


class TwilioErrorBody(msgspec.Struct):
    """Twilio's REST error body, key for key."""

    code: int
    message: str
    more_info: str
    status: int


class TwilioError(Exception):
    """A Twilio error answered synchronously; the HTTP status comes from the catalog."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        kind = CATALOG.get(code)
        self.code = code
        self.message = message or (kind.message if kind else "Error")
        self.status = status or (kind.status if kind and kind.status else 400)
        self.headers = dict(headers or {})
        super().__init__(f"{code}: {self.message}")

    def body(self) -> TwilioErrorBody:
        return TwilioErrorBody(
            code=self.code, message=self.message, more_info=more_info(self.code), status=self.status
        )


def render_twilio_error(_: Request[Any, Any, Any], exc: TwilioError) -> Response[TwilioErrorBody]:
    return Response(content=exc.body(), status_code=exc.status, headers=exc.headers)


def render_not_found(
    request: Request[Any, Any, Any], _: NotFoundException
) -> Response[TwilioErrorBody]:
    error = TwilioError(20404, f"The requested resource {request.url.path} was not found")
    return render_twilio_error(request, error)


def render_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[TwilioErrorBody]:
    code = {401: 20003, 404: 20404, 405: 20004}.get(exc.status_code, 20001)
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        code = 20500
    error = TwilioError(code, exc.detail or None, status=exc.status_code, headers=exc.headers)
    return render_twilio_error(request, error)


def render_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[TwilioErrorBody]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render_twilio_error(request, TwilioError(20500))
