"""`X-Twilio-Signature`: how Twilio signs the webhooks it sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from itertools import groupby


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """base64(HMAC-SHA1(auth_token, url + each param name + value, sorted by name then value)).

    Repeated names are sorted by value and deduplicated, as Twilio's helper libraries do
    (twilio.request_validator.RequestValidator.compute_signature)."""
    pairs = sorted(params)
    signed = url
    for name, group in groupby(pairs, key=lambda pair: pair[0]):
        for value in sorted({value for _, value in group}):
            signed += name + value
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
