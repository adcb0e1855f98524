"""Provider status callbacks: verified, then applied forward-only."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from service.callbacks import store
from service.callbacks.statuses import PROVIDER_TO_ATTEMPT

# Error messages for the asynchronous delivery codes a receipt carries without text.
_RECEIPT_ERRORS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered by the carrier",
    30008: "Unknown error",
}


async def apply_status_callback(
    pool: asyncpg.Pool, form: dict[str, str], attempt_ref: str | None, now: datetime
) -> bool:
    """Apply one Messages status callback; unknown statuses and attempts are ignored."""
    provider_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    status = PROVIDER_TO_ATTEMPT.get(provider_status)
    if status is None:
        return False
    attempt_id = _parse_uuid(attempt_ref)
    provider_sid = form.get("MessageSid") or form.get("SmsSid")
    if attempt_id is None and not provider_sid:
        return False
    error_code = _parse_int(form.get("ErrorCode"))
    error_message = form.get("ErrorMessage") or (
        _RECEIPT_ERRORS.get(error_code, "Delivery failed") if error_code else None
    )
    return await store.apply_receipt(
        pool,
        attempt_id=attempt_id,
        provider_sid=provider_sid,
        status=status,
        error_code=error_code,
        error_message=error_message,
        now=now,
    )


def _parse_uuid(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(hex=text)
    except ValueError:
        return None


def _parse_int(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None
