"""Phone numbers and channel addresses: what is valid, which channel, which kind of sender."""

from __future__ import annotations

import re
from enum import StrEnum

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
# Alphanumeric sender IDs: up to 11 letters, digits and spaces, at least one letter.
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_MESSAGING_SERVICE = re.compile(r"^MG[0-9a-fA-F]{32}$")
_TOLL_FREE_PREFIXES = ("+1800", "+1833", "+1844", "+1855", "+1866", "+1877", "+1888")


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"


class SenderKind(StrEnum):
    LONG_CODE = "long_code"  # US and Canada (+1)
    INTERNATIONAL_LONG_CODE = "international_long_code"  # any other country
    TOLL_FREE = "toll_free"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"
    WHATSAPP = "whatsapp"
    MESSAGING_SERVICE = "messaging_service"


def split_channel(address: str) -> tuple[Channel, str]:
    """`whatsapp:+1555…` -> (WHATSAPP, `+1555…`); a bare number is SMS."""
    prefix, separator, rest = address.partition(":")
    if separator and prefix.lower() == Channel.WHATSAPP:
        return Channel.WHATSAPP, rest
    return Channel.SMS, address


def is_e164(number: str) -> bool:
    return _E164.match(number) is not None


def is_valid_recipient(address: str) -> bool:
    """An E.164 number, optionally behind a `whatsapp:` prefix."""
    prefix, separator, _ = address.partition(":")
    if separator and prefix.lower() != Channel.WHATSAPP:
        return False
    return is_e164(split_channel(address)[1])


def is_valid_sender(address: str) -> bool:
    """E.164, short code, alphanumeric sender ID, or `whatsapp:+E164`."""
    channel, number = split_channel(address)
    if channel is Channel.WHATSAPP:
        return is_e164(number)
    if ":" in address:
        return False
    return bool(is_e164(address) or _SHORT_CODE.match(address) or _ALPHANUMERIC.match(address))


def is_messaging_service_sid(value: str) -> bool:
    return _MESSAGING_SERVICE.match(value) is not None


def sender_kind(address: str) -> SenderKind:
    """The sender's shape, which decides its default throughput."""
    if is_messaging_service_sid(address):
        return SenderKind.MESSAGING_SERVICE
    channel, number = split_channel(address)
    if channel is Channel.WHATSAPP:
        return SenderKind.WHATSAPP
    if _SHORT_CODE.match(number):
        return SenderKind.SHORT_CODE
    if number.startswith(_TOLL_FREE_PREFIXES):
        return SenderKind.TOLL_FREE
    if is_e164(number):
        return (
            SenderKind.LONG_CODE if number.startswith("+1") else SenderKind.INTERNATIONAL_LONG_CODE
        )
    return SenderKind.ALPHANUMERIC
