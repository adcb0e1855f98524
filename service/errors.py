"""The error tree: every error the API answers with, each with a stable code and message.

One handler (service/app.py) renders them as the error body
`{"errors": [{code, message, infoUrl, context}]}`. Codes, HTTP statuses and default messages
come from the catalogue, service/error_codes.py: a subclass names its entry as `error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from service import error_codes
from service.error_codes import ErrorCode


@dataclass(frozen=True)
class Problem:
    """One entry of an error body."""

    code: int
    message: str
    context: str | None = None


class ApiError(Exception):
    """Internal error."""

    # The catalogue entry a subclass answers with: it sets `code`, `status_code` and the
    # default message. A subclass that names none sets `code` and `status_code` itself and
    # answers with its docstring.
    error: ClassVar[ErrorCode] = error_codes.INTERNAL
    status_code: int = 500
    code: int = error_codes.INTERNAL.code
    default_message: ClassVar[str] = error_codes.INTERNAL.message
    headers: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        error: ErrorCode | None = cls.__dict__.get("error")
        if error is None:
            cls.default_message = (cls.__doc__ or "").strip()
            return
        if error.http_status is None:
            raise TypeError(f"{cls.__name__}: code {error.code} is never an HTTP answer")
        cls.code = error.code
        cls.status_code = error.http_status
        cls.default_message = error.message

    def __init__(self, message: str | None = None, *, context: str | None = None) -> None:
        self.message = message or self.default_message
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

    error = error_codes.INVALID_PAGE_TOKEN


class Unauthorized(ApiError):
    """Authentication failed: the credentials are missing or wrong."""

    error = error_codes.UNAUTHORIZED
    headers = {"WWW-Authenticate": 'Basic realm="comms"'}


class NotFound(ApiError):
    """The resource was not found (or is another account's)."""

    error = error_codes.NOT_FOUND


class CannotCancel(ApiError):
    """Nothing in this operation is left to cancel."""

    error = error_codes.CANNOT_CANCEL


class BodyTooLarge(ApiError):
    """The request body is larger than the configured limit."""

    error = error_codes.BODY_TOO_LARGE


class TooManyRequests(ApiError):
    """Over the account's request quota: retry after the Retry-After delay."""

    error = error_codes.TOO_MANY_REQUESTS

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"{self.error.message}; retry after {retry_after_s} s")
        self.headers = {"Retry-After": str(retry_after_s)}


class Unavailable(ApiError):
    """The service is unavailable (its database or Redis did not answer in time); retry after
    the Retry-After delay."""

    error = error_codes.SERVICE_UNAVAILABLE
    headers = {"Retry-After": "1"}
