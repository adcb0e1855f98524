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
) -> store.Applied | None:
    """Apply one Messages status callback; unknown statuses and attempts are ignored."""
    provider_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    status = PROVIDER_TO_ATTEMPT.get(provider_status)
    if status is None:
        return None
    attempt_id = _parse_uuid(attempt_ref)
    provider_sid = form.get("MessageSid") or form.get("SmsSid")
    if attempt_id is None and not provider_sid:
        return None
    error_code, error_message = _receipt_error(form)
    return await apply_receipt(
        pool,
        attempt_id=attempt_id,
        provider_sid=provider_sid,
        status=status,
        error_code=error_code,
        error_message=error_message,
        now=now,
    )


async def apply_conversations_event(
    pool: asyncpg.Pool, form: dict[str, str], now: datetime
) -> store.Applied | None:
    """Apply an `onDeliveryUpdated` event to the attempt that sent the message (by IM sid).

    Other events (`onMessageAdded` for a handset's reply, ...) need nothing from the send path.
    """
    if form.get("EventType") != "onDeliveryUpdated":
        return None
    status = PROVIDER_TO_ATTEMPT.get((form.get("Status") or "").lower())
    provider_sid = form.get("MessageSid")
    if status is None or not provider_sid:
        return None
    error_code, error_message = _receipt_error(form)
    return await apply_receipt(
        pool,
        attempt_id=None,
        provider_sid=provider_sid,
        status=status,
        error_code=error_code,
        error_message=error_message,
        now=now,
    )


async def apply_receipt(
    pool: asyncpg.Pool,
    *,
    attempt_id: uuid.UUID | None,
    provider_sid: str | None,
    status: str,
    error_code: int | None,
    error_message: str | None,
    now: datetime,
) -> store.Applied | None:
    """Apply a receipt; one naming a provider sid no attempt has yet is kept until one has."""
    for _ in range(2):
        applied = await store.apply_receipt(
            pool,
            attempt_id=attempt_id,
            provider_sid=provider_sid,
            status=status,
            error_code=error_code,
            error_message=error_message,
            now=now,
        )
        if applied is not None or attempt_id is not None or provider_sid is None:
            return applied
        early = store.EarlyReceipt(provider_sid, status, error_code, error_message, now)
        if await store.keep_early_receipt(pool, early):
            return None
        # An attempt took the sid between the two statements: apply the receipt to it now.
    return None


async def apply_early_receipts(pool: asyncpg.Pool, provider_sids: list[str], now: datetime) -> None:
    """Receipts that came before their sids were recorded, applied now that they are."""
    if not provider_sids:
        return
    for receipt in await store.take_early_receipts(pool, provider_sids):
        await store.apply_receipt(
            pool,
            attempt_id=None,
            provider_sid=receipt.provider_sid,
            status=receipt.status,
            error_code=receipt.error_code,
            error_message=receipt.error_message,
            now=now,
        )


def _receipt_error(form: dict[str, str]) -> tuple[int | None, str | None]:
    """The error a receipt reports (ErrorCode 0 or absent: none), with a message for it."""
    code = _parse_int(form.get("ErrorCode")) or None
    if code is None:
        return None, None
    return code, form.get("ErrorMessage") or _RECEIPT_ERRORS.get(code, "Delivery failed")


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
