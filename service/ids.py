"""Identifiers: UUIDv7 values stored as `uuid`, shown as lowercase TypeIDs (prefix + base32)."""

from __future__ import annotations

import base64
import os
import re
import secrets
import threading
import time
import uuid

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}

OPERATION = "comms_operation"
MESSAGE = "comms_message"
SENDER = "comms_sender"
SENDER_POOL = "comms_senderpool"
WEBHOOK = "comms_webhook"
ATTEMPT = "comms_attempt"
DELIVERY = "comms_delivery"
PROFILE = "comms_profile"
AUDIENCE = "comms_audience"
PROFILE_IMPORT = "comms_profileimport"
# A request id the API makes when the caller sent none (X-Request-Id).
REQUEST = "req"

_SUFFIX = r"[0-7][a-hjkmnpqrstv-z0-9]{25}"

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7; ids made in one process within one millisecond still sort in creation order."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one ms: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = secrets.randbelow(0x400)
        counter = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


def uuid7_batch(n: int) -> list[uuid.UUID]:
    return [uuid7() for _ in range(n)]


def request_id() -> str:
    """A new request id: `req_` and a TypeID suffix (sorts by time, like the other ids)."""
    return encode(REQUEST, uuid7())


# Two base32 digits (10 bits) a lookup: a suffix is 13 of them, most significant first. Every
# list page encodes two ids a row, so this is on the reads' hot path.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_PAIR_SHIFTS = tuple(range(120, -1, -10))


def encode(prefix: str, value: uuid.UUID) -> str:
    number = value.int
    pairs = _PAIRS
    return prefix + "_" + "".join([pairs[(number >> shift) & 1023] for shift in _PAIR_SHIFTS])


def decode(prefix: str, text: str) -> uuid.UUID | None:
    """The uuid behind a TypeID of this prefix, or None when the text is not one."""
    head = prefix + "_"
    if not text.startswith(head):
        return None
    suffix = text[len(head) :]
    if not _pattern(prefix).fullmatch(text):
        return None
    number = 0
    for char in suffix:
        number = (number << 5) | _DECODE[char]
    return uuid.UUID(int=number)


_patterns: dict[str, re.Pattern[str]] = {}


def _pattern(prefix: str) -> re.Pattern[str]:
    pattern = _patterns.get(prefix)
    if pattern is None:
        pattern = _patterns[prefix] = re.compile(f"^{re.escape(prefix)}_{_SUFFIX}$")
    return pattern


def pattern(prefix: str) -> str:
    """The documented regular expression for a TypeID of this prefix."""
    return f"^{prefix}_{_SUFFIX}$"


def account_sid() -> str:
    return "AC" + secrets.token_hex(16)


def api_key_sid() -> str:
    return "SK" + secrets.token_hex(16)


def secret() -> str:
    return secrets.token_hex(16)


def signing_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
