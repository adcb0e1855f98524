"""What a sender address is, and the key and rate the send queue and limiter use for it."""

from __future__ import annotations

import re

from schemas.senders import DEFAULT_MPS, NON_NANP_LONG_CODE_MPS
from service.messages import phone

# A Twilio Messaging Service SID: the provider picks the sending number from its pool.
_MESSAGING_SERVICE = re.compile(r"^MG[0-9a-fA-F]{32}$")
# Channels a Messaging Service can send on (it is not a Conversations proxy address).
MESSAGING_SERVICE_CHANNELS = ("SMS", "WHATSAPP")
_SHORT_CODE = re.compile(r"^\d{5,6}$")
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_TOLL_FREE_NANP = ("800", "833", "844", "855", "866", "877", "888")


def is_messaging_service(address: str) -> bool:
    return _MESSAGING_SERVICE.match(address) is not None


def is_valid_sender_address(address: str, channel: str) -> bool:
    if is_messaging_service(address):
        return channel in MESSAGING_SERVICE_CHANNELS
    if channel != "SMS":
        return phone.is_possible_e164(address)
    return bool(
        phone.is_possible_e164(address)
        or _SHORT_CODE.match(address)
        or _ALPHANUMERIC.match(address)
    )


def infer_kind(address: str, channel: str) -> str:
    if is_messaging_service(address):
        return "MESSAGING_SERVICE"
    if channel == "WHATSAPP":
        return "WHATSAPP"
    if _SHORT_CODE.match(address):
        return "SHORT_CODE"
    if _ALPHANUMERIC.match(address):
        return "ALPHANUMERIC"
    if address.startswith("+1") and address[2:5] in _TOLL_FREE_NANP:
        return "TOLL_FREE"
    return "LONG_CODE"


def default_mps(address: str, channel: str) -> float:
    return kind_default_mps(infer_kind(address, channel), address)


def kind_default_mps(kind: str, address: str) -> float:
    """The default rate of a sender of this kind: a long code outside the US and Canada
    (not +1) sends 10 segments a second, a US or Canadian one 1."""
    if kind == "LONG_CODE" and address.startswith("+") and not address.startswith("+1"):
        return NON_NANP_LONG_CODE_MPS
    return DEFAULT_MPS.get(kind, 1.0)


def sender_key(channel: str, address: str) -> str:
    return f"{channel}:{address}"


def split_key(key: str) -> tuple[str, str]:
    channel, _, address = key.partition(":")
    return channel, address
