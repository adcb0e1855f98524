"""The error tree: every error the API answers with, each with a stable code and message.

One handler (service/app.py) renders them as the error body
`{"errors": [{code, message, infoUrl, context}]}`.
"""

from __future__ import annotations

from dataclasses import dataclass

INFO_URL = "https://www.twilio.com/docs/api/errors/{code}"

# Twilio's own code for "Service unavailable": PostgreSQL (or, for anything that cannot do
# without it, Redis) is down, hung or restarting.
CODE_SERVICE_UNAVAILABLE = 20503

# Codes of our own (no Twilio code fits); listed in the OpenAPI document.
CODE_INVALID_FIELD = 90001
CODE_INVALID_PAGE_TOKEN = 90002
CODE_BODY_TOO_LARGE = 90003
CODE_TEMPLATE_RENDER = 90004
CODE_INVALID_URL = 90030
CODE_TOO_MANY_WEBHOOKS = 90031
CODE_UNKNOWN_EVENT_TYPE = 90032
CODE_INTERNAL = 90500

OWN_CODES: dict[int, str] = {
    CODE_INVALID_FIELD: "A field is missing, of the wrong type or out of range.",
    CODE_INVALID_PAGE_TOKEN: "The page token is malformed.",
    CODE_BODY_TOO_LARGE: "The request body is larger than the configured limit.",
    CODE_TEMPLATE_RENDER: "A message's template failed to render with its recipient's variables.",
    CODE_INVALID_URL: "The URL is not an https URL of a public host (private, loopback and "
    "link-local addresses are refused).",
    CODE_TOO_MANY_WEBHOOKS: "The account has the maximum number of webhook endpoints.",
    CODE_UNKNOWN_EVENT_TYPE: "Not a known event type.",
    CODE_INTERNAL: "Internal error.",
    90020: "No sender of the send can reach any of the recipient's addresses (unaddressable).",
    90409: "A request with this Idempotency-Key is still in flight.",
    90410: "This sender is registered already.",
    90422: "This Idempotency-Key was used with another request body.",
}


@dataclass(frozen=True)
class Problem:
    """One entry of an error body."""

    code: int
    message: str
    context: str | None = None


class ApiError(Exception):
    """Internal error."""

    status_code = 500
    code = CODE_INTERNAL
    headers: dict[str, str] = {}

    def __init__(self, message: str | None = None, *, context: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.context = context
        super().__init__(self.message)

    @property
    def problems(self) -> list[Problem]:
        return [Problem(self.code, self.message, self.context)]


class ValidationFailed(ApiError):
    """The request is invalid."""

    status_code = 400
    MAX_PROBLEMS = 100

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message if problems else None)
        self._problems = problems[: self.MAX_PROBLEMS]

    @property
    def problems(self) -> list[Problem]:
        return self._problems


class InvalidPageToken(ApiError):
    """The page token is malformed."""

    status_code = 400
    code = CODE_INVALID_PAGE_TOKEN


class Unauthorized(ApiError):
    """Authentication failed: the credentials are missing or wrong."""

    status_code = 401
    code = 20003
    headers = {"WWW-Authenticate": 'Basic realm="comms"'}


class NotFound(ApiError):
    """The resource was not found."""

    status_code = 404
    code = 20404


class CannotCancel(ApiError):
    """Nothing in this operation is left to cancel."""

    status_code = 409
    code = 30409


class BodyTooLarge(ApiError):
    """The request body is larger than the configured limit."""

    status_code = 413
    code = CODE_BODY_TOO_LARGE


class TooManyRequests(ApiError):
    """Too Many Requests"""

    status_code = 429
    code = 20429

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"Too many requests for this account; retry after {retry_after_s} s")
        self.headers = {"Retry-After": str(retry_after_s)}


class Unavailable(ApiError):
    """The service is unavailable (its database or Redis did not answer in time); retry after
    the Retry-After delay."""

    status_code = 503
    code = CODE_SERVICE_UNAVAILABLE
    headers = {"Retry-After": "1"}


def info_url(code: int) -> str:
    return INFO_URL.format(code=code)
