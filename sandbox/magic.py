"""Magic numbers: Twilio's test numbers (synchronous errors) and the sandbox's own numbers
for asynchronous outcomes. sandbox/README.md documents the same table."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import msgspec

# A From that is always accepted (as with Twilio's test credentials). Any other well-formed
# From is accepted too, except the magic ones below.
VALID_FROM = "+15005550006"

# Twilio's test numbers: answered 400 at create time, no message created.
FROM_ERRORS: Mapping[str, int] = {
    "+15005550001": 21212,  # invalid From
    "+15005550007": 21606,  # From not owned by the account / not SMS-capable
    "+15005550008": 21611,  # From's queue is full
}
TO_ERRORS: Mapping[str, int] = {
    "+15005550001": 21211,  # invalid To
    "+15005550002": 21612,  # cannot route to this number
    "+15005550003": 21408,  # no geo permission for the region
    "+15005550004": 21610,  # recipient unsubscribed (STOP)
    "+15005550009": 21614,  # not a mobile number
}


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"  # queued -> sent -> delivered
    READ = "read"  # queued -> sent -> delivered -> read
    UNDELIVERED = "undelivered"  # queued -> sent -> undelivered (error code)
    FAILED = "failed"  # queued -> failed (error code), never sent
    NO_RECEIPT = "no_receipt"  # queued -> sent, and no delivery receipt ever comes


class Outcome(msgspec.Struct, frozen=True):
    kind: OutcomeKind
    error_code: int | None = None


DELIVERED = Outcome(OutcomeKind.DELIVERED)

# The sandbox's own numbers (To, bare or behind `whatsapp:`): accepted with 201, then the
# message ends as listed, with status callbacks for every step.
TO_OUTCOMES: Mapping[str, Outcome] = {
    "+15005550010": Outcome(OutcomeKind.UNDELIVERED, 30003),  # unreachable handset
    "+15005550011": Outcome(OutcomeKind.UNDELIVERED, 30005),  # unknown handset
    "+15005550012": Outcome(OutcomeKind.UNDELIVERED, 30006),  # landline / unreachable carrier
    "+15005550013": Outcome(OutcomeKind.UNDELIVERED, 30007),  # filtered by the carrier
    "+15005550014": Outcome(OutcomeKind.FAILED, 30008),  # unknown error, never sent
    "+15005550015": Outcome(OutcomeKind.READ),  # delivered, then read
    "+15005550016": Outcome(OutcomeKind.NO_RECEIPT),  # stays `sent`: no DLR ever arrives
}

# WhatsApp: this user is not on WhatsApp -> the message fails with 63003.
WHATSAPP_NOT_A_USER = "+15005550020"
WHATSAPP_NOT_A_USER_OUTCOME = Outcome(OutcomeKind.FAILED, 63003)
# Free-form WhatsApp text outside a 24-hour session -> the message fails with 63016.
WHATSAPP_OUTSIDE_SESSION_OUTCOME = Outcome(OutcomeKind.FAILED, 63016)
WHATSAPP_SESSION_S = 24 * 60 * 60

# Inbound bodies that opt a handset out of (or back into) messages from the number it texted,
# like Twilio's default Advanced Opt-Out keywords. Sends to an opted-out pair answer 21610.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
