"""What a sender address is, and the key and rate the send queue and limiter use for it."""

from __future__ import annotations

import re

from schemas.senders import DEFAULT_MPS
from service.messages import phone

_SHORT_CODE = re.compile(r"^\d{5,6}$")
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_TOLL_FREE_NANP = ("800", "833", "844", "855", "866", "877", "888")


def is_valid_sender_address(address: str, channel: str) -> bool:
    if channel != "SMS":
        return phone.is_possible_e164(address)
    return bool(
        phone.is_possible_e164(address)
        or _SHORT_CODE.match(address)
        or _ALPHANUMERIC.match(address)
    )


def infer_kind(address: str, channel: str) -> str:
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
    return DEFAULT_MPS[infer_kind(address, channel)]


def sender_key(channel: str, address: str) -> str:
    return f"{channel}:{address}"


def split_key(key: str) -> tuple[str, str]:
    channel, _, address = key.partition(":")
    return channel, address
