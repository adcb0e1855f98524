"""Twilio-shaped identifiers: a two-letter prefix and 32 lowercase hex digits."""

from __future__ import annotations

import uuid

ACCOUNT = "AC"
MESSAGE = "SM"
MEDIA_MESSAGE = "MM"
MEDIA = "ME"
MESSAGING_SERVICE = "MG"
CONVERSATION = "CH"
CHAT_SERVICE = "IS"
PARTICIPANT = "MB"
CONVERSATION_MESSAGE = "IM"
DELIVERY_RECEIPT = "DY"
CHANNEL_INSTALL = "XE"
REQUEST = "RQ"


def new_sid(prefix: str) -> str:
    """A fresh sid such as `SM0f3c…` (prefix + 32 hex digits)."""
    return prefix + uuid.uuid4().hex


def derived_sid(prefix: str, seed: str) -> str:
    """A stable sid derived from `seed`, for values Twilio keeps fixed per account."""
    return prefix + uuid.uuid5(uuid.NAMESPACE_URL, seed).hex
