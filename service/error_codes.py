"""Every error code the service answers with, records on a message or attempt, or documents.

One entry per code: its HTTP status (None for codes that are only ever recorded on messages
and attempts, never an HTTP answer), the message the API answers with or records, a one-line
summary for the OpenAPI document's code table, and whether the code is one of our own
(9xxxx, where no Twilio code fits) or Twilio's.

Modules raise and record these entries by name (`error_codes.NOT_FOUND.code`); the OpenAPI
document (service/openapi.py) and the error-code page (GET /docs/errors) are made from
`CATALOGUE`. SQL that names a code literally is held to this module
by tests/service/test_error_codes.py. Provider texts follow
https://www.twilio.com/docs/api/errors/<code>.

Nothing here does I/O or imports the web framework: the sending rules read it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INFO_URL = "https://www.twilio.com/docs/api/errors/{code}"
# The service's own error-code page (service/docs/routes.py), one anchor per code.
OWN_INFO_PATH = "/docs/errors#{code}"


def is_ours(code: int) -> bool:
    """Codes of our own are the 9xxxx ones: where no Twilio code fits."""
    return 90000 <= code <= 99999


def info_url(code: int, base_url: str) -> str:
    """The documentation page of an error code, as an error body's infoUrl: Twilio's page for
    a Twilio code, the service's error-code page under `base_url` for one of ours."""
    if is_ours(code):
        return base_url.rstrip("/") + OWN_INFO_PATH.format(code=code)
    return INFO_URL.format(code=code)


@dataclass(frozen=True)
class ErrorCode:
    code: int
    # The HTTP status the API answers this code with; None: only recorded on messages and
    # attempts (or met in a provider's answers), never an HTTP answer of ours.
    http_status: int | None
    # What the API answers with (an ApiError's default message), or what a message records
    # when the code's text does not depend on the case. Call sites that say more (a field's
    # name, a limit) give their own text with the code.
    message: str
    # Ours (9xxxx: no Twilio code fits) or Twilio's.
    ours: bool
    # The one line the OpenAPI document's code table gives (no "; ": it separates the
    # entries); the message when left empty.
    summary: str = field(default="")

    def __post_init__(self) -> None:
        if not self.summary:
            object.__setattr__(self, "summary", self.message)


def _twilio(code: int, http_status: int | None, message: str, summary: str = "") -> ErrorCode:
    return ErrorCode(code, http_status, message, ours=False, summary=summary)


def _ours(code: int, http_status: int | None, message: str, summary: str = "") -> ErrorCode:
    return ErrorCode(code, http_status, message, ours=True, summary=summary)


# HTTP answers: Twilio's codes ------------------------------------------------------------------

UNAUTHORIZED = _twilio(
    20003,
    401,
    "Authentication failed: the credentials are missing or wrong.",
    "Authentication failed",
)
BAD_SIGNATURE = _twilio(
    20403,
    403,
    "The X-Twilio-Signature header does not match the request.",
    "Provider callback signature invalid",
)
# Also what a provider answers for a resource it does not have (a deleted or forgotten
# conversation: workers/channels/conversations.py).
NOT_FOUND = _twilio(20404, 404, "The resource was not found.", "Not found")
# TooManyRequests answers "<message>; retry after <n> s".
TOO_MANY_REQUESTS = _twilio(
    20429,
    429,
    "Too many requests for this account",
    "Too many requests: over the account's request quota",
)
# PostgreSQL (or, for anything that cannot do without it, Redis) is down, hung or restarting.
SERVICE_UNAVAILABLE = _twilio(
    20503,
    503,
    # The newline and indent are in the answer as it has always been (the text came from a
    # docstring); kept byte for byte.
    "The service is unavailable (its database or Redis did not answer in time); retry after\n"
    "    the Retry-After delay.",
    "Service unavailable: PostgreSQL or Redis did not answer in time",
)
INVALID_TO = _twilio(21211, 400, "Invalid 'To' phone number")
INVALID_FROM = _twilio(21212, 400, "Invalid 'From' phone number")
BODY_REQUIRED = _twilio(21602, 400, "Message body is required")
FROM_REQUIRED = _twilio(21603, 400, "'From' is required")
TO_REQUIRED = _twilio(21604, 400, "'To' is required")
# A send's text over the limit answers 400; a rendered text over it fails the message.
BODY_TOO_LONG = _twilio(21617, 400, "Message body exceeds 1,600 characters")
TOO_MANY_MEDIA = _twilio(21623, 400, "Too many media items")
CANNOT_CANCEL = _twilio(
    30409, 409, "Nothing in this operation is left to cancel.", "Nothing left to cancel"
)
SCHEDULE_TOO_SOON = _twilio(35114, 400, "Schedule time is in the past")
SCHEDULE_TOO_LATE = _twilio(35115, 400, "Schedule time is more than 35 days ahead")

# HTTP answers: our own codes ---------------------------------------------------------------

INVALID_FIELD = _ours(90001, 400, "A field is missing, of the wrong type or out of range.")
INVALID_PAGE_TOKEN = _ours(90002, 400, "The page token is malformed.")
BODY_TOO_LARGE = _ours(90003, 413, "The request body is larger than the configured limit.")
INVALID_URL = _ours(
    90030,
    400,
    "The URL is not an https URL of a public host (private, loopback and link-local "
    "addresses are refused).",
)
TOO_MANY_WEBHOOKS = _ours(90031, 400, "The account has the maximum number of webhook endpoints.")
UNKNOWN_EVENT_TYPE = _ours(90032, 400, "Not a known event type.")
KEY_IN_FLIGHT = _ours(
    90409,
    409,
    "A request with this Idempotency-Key is still being processed; retry shortly.",
    "A request with this Idempotency-Key is still in flight.",
)
SENDER_EXISTS = _ours(
    90410,
    409,
    "This account has registered this address on this channel already.",
    "This sender is registered already.",
)
PROFILE_EXISTS = _ours(
    90412,
    409,
    "This account has a profile with this externalId already.",
    "A profile with this externalId exists already.",
)
IMPORT_TOO_MANY_ROWS = _ours(
    90413,
    413,
    "A profile import holds at most 1,000,000 rows.",
    "The profile import holds more than 1,000,000 rows.",
)
IMPORT_MEDIA_TYPE = _ours(
    90415,
    415,
    "A profile import's Content-Type must be application/x-ndjson or text/csv.",
    "The profile import is neither NDJSON nor CSV.",
)
KEY_REUSED = _ours(
    90422,
    422,
    "This Idempotency-Key was used with a different request body.",
    "This Idempotency-Key was used with another request body.",
)
# Audiences and profiles (service/audiences).
INVALID_FILTER = _ours(
    90050,
    400,
    "The audience filter is invalid: an unknown operator, a value of the wrong type or too "
    "many clauses.",
    "The audience filter is invalid.",
)
UNKNOWN_PROFILE = _ours(
    90051, 400, "No profile of this account has this id.", "Unknown profile (of this account)."
)
UNKNOWN_AUDIENCE = _ours(
    90052, 400, "No audience of this account has this id.", "Unknown audience (of this account)."
)
FILTER_AUDIENCE_MEMBERS = _ours(
    90053,
    409,
    "This audience selects its members by its filter: members cannot be added or removed.",
    "Members of a filter audience cannot be added or removed.",
)
INTERNAL = _ours(90500, 500, "Internal error.")

# Recorded on messages and attempts: Twilio's codes ---------------------------------------------

# The provider could not fetch a media URL; it answered with a type other than gif, png or
# jpeg; the media are larger than 5 MB (MMS).
MEDIA_RETRIEVAL_FAILED = _twilio(11200, None, "HTTP retrieval failure (media URL)")
MEDIA_TOO_LARGE = _twilio(11751, None, "Media exceeds messaging provider size limit")
MEDIA_CONTENT_TYPE = _twilio(12300, None, "Invalid Content-Type (media)")
# A rendered media URL is not an https URL (refused per recipient, never sent).
INVALID_MEDIA_URL = _twilio(21620, None, "Invalid media URL(s)")
# The provider knows no such Messaging Service (or not for this provider account).
UNKNOWN_MESSAGING_SERVICE = _twilio(21701, None, "The Messaging Service does not exist")

OPTED_OUT = _twilio(
    21610,
    None,
    "The recipient opted out of this account's messages (suppression list)",
    "The recipient opted out (suppression list)",
)
# Failed at accept time: the sender's backlog would outlast the validity period.
QUEUE_OVERFLOW = _twilio(
    30001, None, "Queue overflow: the sender's backlog outlasts the validity period"
)
# A message of an account disabled after its accept (comms accounts disable): never sent.
ACCOUNT_SUSPENDED = _twilio(30002, None, "Account suspended: the account was disabled")
UNREACHABLE_HANDSET = _twilio(30003, None, "Unreachable destination handset")
MESSAGE_BLOCKED = _twilio(30004, None, "Message blocked")
UNKNOWN_HANDSET = _twilio(30005, None, "Unknown destination handset")
LANDLINE = _twilio(30006, None, "Landline or unreachable carrier")
FILTERED = _twilio(30007, None, "Message filtered by the carrier")
# Twilio's "Unknown error"; ours too for an attempt whose worker stopped before the provider
# answered and that the provider turned out not to have (lost).
LOST = _twilio(
    30008,
    None,
    "Unknown error",
    "Unknown error (also: the worker stopped before the provider answered, not submitted)",
)
EXPIRED = _twilio(30036, None, "Message validity period expired")
# The Conversations API's refusals the worker acts on (never answered by our API).
CONVERSATION_CLOSED = _twilio(
    50377, None, "Can't update conversation as it's in final closed state"
)
BINDING_EXISTS = _twilio(
    50416, None, "A binding for this participant and proxy address already exists"
)
# WhatsApp: the recipient is not a WhatsApp user; free-form text outside the 24-hour session.
CHANNEL_ADDRESS_NOT_FOUND = _twilio(63003, None, "Channel could not find To address")
OUTSIDE_SESSION_WINDOW = _twilio(
    63016,
    None,
    "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
    "Free-form message outside the WhatsApp 24-hour session window (use a template)",
)

# Recorded on messages: our own codes -----------------------------------------------------------

TEMPLATE_RENDER = _ours(
    90004, None, "A message's template failed to render with its recipient's variables."
)
UNADDRESSABLE = _ours(
    90020,
    None,
    "No sender of this send can reach any of the recipient's addresses",
    "No sender of the send can reach any of the recipient's addresses (unaddressable).",
)


def _catalogue(*entries: ErrorCode) -> dict[int, ErrorCode]:
    catalogue: dict[int, ErrorCode] = {}
    for entry in entries:
        if entry.code in catalogue:
            raise ValueError(f"error code {entry.code} is catalogued twice")
        catalogue[entry.code] = entry
    return dict(sorted(catalogue.items()))


CATALOGUE: dict[int, ErrorCode] = _catalogue(
    UNAUTHORIZED,
    BAD_SIGNATURE,
    NOT_FOUND,
    TOO_MANY_REQUESTS,
    SERVICE_UNAVAILABLE,
    INVALID_TO,
    INVALID_FROM,
    BODY_REQUIRED,
    FROM_REQUIRED,
    TO_REQUIRED,
    BODY_TOO_LONG,
    TOO_MANY_MEDIA,
    CANNOT_CANCEL,
    SCHEDULE_TOO_SOON,
    SCHEDULE_TOO_LATE,
    INVALID_FIELD,
    INVALID_PAGE_TOKEN,
    BODY_TOO_LARGE,
    INVALID_URL,
    TOO_MANY_WEBHOOKS,
    UNKNOWN_EVENT_TYPE,
    KEY_IN_FLIGHT,
    SENDER_EXISTS,
    PROFILE_EXISTS,
    IMPORT_TOO_MANY_ROWS,
    IMPORT_MEDIA_TYPE,
    KEY_REUSED,
    INVALID_FILTER,
    UNKNOWN_PROFILE,
    UNKNOWN_AUDIENCE,
    FILTER_AUDIENCE_MEMBERS,
    INTERNAL,
    MEDIA_RETRIEVAL_FAILED,
    MEDIA_TOO_LARGE,
    MEDIA_CONTENT_TYPE,
    INVALID_MEDIA_URL,
    UNKNOWN_MESSAGING_SERVICE,
    OPTED_OUT,
    QUEUE_OVERFLOW,
    ACCOUNT_SUSPENDED,
    UNREACHABLE_HANDSET,
    MESSAGE_BLOCKED,
    UNKNOWN_HANDSET,
    LANDLINE,
    FILTERED,
    LOST,
    EXPIRED,
    CONVERSATION_CLOSED,
    BINDING_EXISTS,
    CHANNEL_ADDRESS_NOT_FOUND,
    OUTSIDE_SESSION_WINDOW,
    TEMPLATE_RENDER,
    UNADDRESSABLE,
)
