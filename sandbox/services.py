"""Messaging Services: a SID (`MG…`) standing for a pool of numbers, one picked per message.

A service is created with its numbers through the control API (`POST
/sandbox/messaging-services`) for one account. A well-formed SID nobody created stands for a
default pool, so a client can send with any `MG…` without setting anything up: ten US long
codes `+1201555XXXX`, derived from the SID (the same SID always has the same pool), and
`whatsapp:` the same numbers for WhatsApp. `UNKNOWN_SERVICE_SID`, or a service created for
another account, does not exist for the caller (21701).

Picking follows Twilio's sender selection: only numbers of the recipient's channel; among
them those with the recipient's country calling code when there are some (Country Code
Geomatch); then Sticky Sender: the same recipient always gets the same number of the pool.
"""

from __future__ import annotations

import zlib

import msgspec

from sandbox.addresses import Channel, split_channel

# A well-formed SID that is never a service of anyone's: sends with it answer 21701.
UNKNOWN_SERVICE_SID = "MG" + "0" * 32
DEFAULT_POOL_SIZE = 10


class MessagingService(msgspec.Struct, frozen=True):
    sid: str
    account_sid: str | None  # None: the default pool of an SID nobody created
    numbers: tuple[str, ...]
    created: bool


def default_numbers(sid: str) -> tuple[str, ...]:
    """The pool a well-formed SID nobody created stands for: ten +1201555 numbers."""
    start = zlib.crc32(sid.encode()) % 10_000
    return tuple(f"+1201555{(start + i) % 10_000:04d}" for i in range(DEFAULT_POOL_SIZE))


class UnknownService(Exception):
    """The SID names no service of this account (Twilio's 21701)."""


class MessagingServices:
    def __init__(self) -> None:
        self.created: dict[str, MessagingService] = {}

    def create(self, sid: str, account_sid: str, numbers: tuple[str, ...]) -> MessagingService:
        service = MessagingService(sid=sid, account_sid=account_sid, numbers=numbers, created=True)
        self.created[sid] = service
        return service

    def find(self, sid: str, account_sid: str) -> MessagingService:
        service = self.created.get(sid)
        if service is not None:
            if service.account_sid != account_sid:
                raise UnknownService(sid)
            return service
        if sid == UNKNOWN_SERVICE_SID:
            raise UnknownService(sid)
        return MessagingService(
            sid=sid, account_sid=None, numbers=default_numbers(sid), created=False
        )

    def clear(self) -> None:
        self.created.clear()


def pick_sender(service: MessagingService, to: str) -> str | None:
    """The number of the pool that sends to `to` (with `whatsapp:` for WhatsApp), or None
    when the pool has no number of the recipient's channel."""
    channel, number = split_channel(to)
    candidates: list[str] = []
    for sender in service.numbers:
        sender_channel, bare = split_channel(sender)
        if service.created and sender_channel is not channel:
            continue
        # The default pool's plain numbers serve both channels.
        candidates.append(bare)
    if not candidates:
        return None
    for size in (3, 2, 1):
        code = number[: size + 1]
        same_country = [c for c in candidates if c.startswith(code)]
        if same_country and _is_calling_code(code):
            candidates = same_country
            break
    picked = candidates[zlib.crc32(number.encode()) % len(candidates)]
    return f"whatsapp:{picked}" if channel is Channel.WHATSAPP else picked


# Calling codes of one, two and three digits (ITU-T E.164): enough to tell two numbers' countries.
_ONE_DIGIT = {"1", "7"}
_TWO_DIGITS = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
}  # fmt: skip


def _is_calling_code(prefix: str) -> bool:
    """Whether `+<digits>` is a whole calling code (any other 3-digit one counts too)."""
    digits = prefix[1:]
    if len(digits) == 1:
        return digits in _ONE_DIGIT
    if len(digits) == 2:
        return digits in _TWO_DIGITS
    return digits[0] not in _ONE_DIGIT and digits[:2] not in _TWO_DIGITS
