"""Provider status callbacks: verified, then applied forward-only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg
import msgspec

from service import db, error_codes
from service.callbacks import store
from service.sending import store as sending_store
from service.sending.statuses import PROVIDER_TO_ATTEMPT


def status_callback_receipt(
    form: dict[str, str], attempt_ref: str | None, now: datetime
) -> store.Receipt | None:
    """The receipt a Messages status callback carries; None for statuses and callbacks that
    name nothing we track."""
    provider_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    status = PROVIDER_TO_ATTEMPT.get(provider_status)
    if status is None:
        return None
    attempt_id = _parse_uuid(attempt_ref)
    provider_sid = form.get("MessageSid") or form.get("SmsSid")
    if attempt_id is None and not provider_sid:
        return None
    error_code, error_message = _receipt_error(form)
    return store.Receipt(attempt_id, provider_sid, status, error_code, error_message, now)


def conversations_receipt(form: dict[str, str], now: datetime) -> store.Receipt | None:
    """The receipt an `onDeliveryUpdated` event carries for the attempt that sent the message
    (by IM sid). Other events (`onMessageAdded` for a handset's reply, ...) need nothing from
    the send path."""
    if form.get("EventType") != "onDeliveryUpdated":
        return None
    status = PROVIDER_TO_ATTEMPT.get((form.get("Status") or "").lower())
    provider_sid = form.get("MessageSid")
    if status is None or not provider_sid:
        return None
    error_code, error_message = _receipt_error(form)
    return store.Receipt(None, provider_sid, status, error_code, error_message, now)


async def apply_receipts(
    pool: asyncpg.Pool,
    receipts: Sequence[store.Receipt],
    *,
    lag: Callable[[str, float], None] | None = None,
) -> list[store.Applied | None]:
    """Apply receipts in arrival order, in as few statements as that order allows; for each,
    what it moved. One naming a provider sid no attempt has yet is kept until one has it.
    `lag` is told, for each receipt of a known attempt, its status and the seconds since the
    attempt's call."""
    applied: list[store.Applied | None] = [None] * len(receipts)
    resolved = await store.resolve_attempts(pool, receipts)
    if lag is not None:
        for index, attempt in resolved.items():
            receipt = receipts[index]
            lag(receipt.status, (receipt.received_at - attempt.attempted_at).total_seconds())
    # Rounds of at most one receipt per message, so that one statement applies each round;
    # a message's receipts go in arrival order, one round after another.
    rounds: list[list[int]] = []
    messages_in: list[set[uuid.UUID]] = []
    for index in sorted(resolved):
        message_id = resolved[index].message_id
        level = next((n for n, seen in enumerate(messages_in) if message_id not in seen), None)
        if level is None:
            level = len(rounds)
            rounds.append([])
            messages_in.append(set())
        rounds[level].append(index)
        messages_in[level].add(message_id)
    for chosen in rounds:
        moved = await _apply(pool, [(resolved[i].attempt_id, receipts[i]) for i in chosen])
        for index, result in zip(chosen, moved, strict=True):
            applied[index] = result
    for index, receipt in enumerate(receipts):
        if index not in resolved:
            applied[index] = await _apply_unresolved(pool, receipt)
    return applied


async def _apply_unresolved(pool: asyncpg.Pool, receipt: store.Receipt) -> store.Applied | None:
    """A receipt no attempt matched: kept for the sid's attempt, or applied to it if one took
    the sid meanwhile. One with our attempt id names an attempt that does not exist."""
    if receipt.attempt_id is not None or receipt.provider_sid is None:
        return None
    for _ in range(2):
        if await store.keep_early_receipt(pool, receipt):
            return None
        # An attempt took the sid after the receipt was resolved: apply the receipt to it now.
        found = await store.resolve_attempts(pool, [receipt])
        if found:
            return (await _apply(pool, [(found[0].attempt_id, receipt)]))[0]
    return None


async def _apply(
    pool: asyncpg.Pool, receipts: list[tuple[uuid.UUID, store.Receipt]]
) -> list[store.Applied | None]:
    """One statement for many receipts, and one for the fallbacks they call for, in one
    transaction; again when PostgreSQL broke a deadlock with it: it locks many attempts and
    messages, in no order a worker recording a batch (or another group of receipts) can
    share."""

    async def transaction() -> list[store.Applied | None]:
        async with pool.acquire() as conn, conn.transaction():
            moved = await store.apply_receipts(conn, receipts)
            fallbacks = [m.fall_back for m in moved if m is not None and m.fall_back]
            fallen = await sending_store.fall_back(conn, fallbacks)
        return [
            None
            if m is None
            else store.Applied(
                m.operation_id, m.fall_back is not None and m.fall_back.message_id in fallen
            )
            for m in moved
        ]

    return await db.retry_deadlocks(transaction)


async def apply_early_receipts(pool: asyncpg.Pool, provider_sids: list[str], now: datetime) -> None:
    """Receipts that came before their sids were recorded, applied now that they are."""
    if not provider_sids:
        return
    early = await store.take_early_receipts(pool, provider_sids)
    if early:
        await apply_receipts(pool, [msgspec.structs.replace(r, received_at=now) for r in early])


def _receipt_error(form: dict[str, str]) -> tuple[int | None, str | None]:
    """The error a receipt reports (ErrorCode 0 or absent: none), with a message for it."""
    code = _parse_int(form.get("ErrorCode")) or None
    if code is None:
        return None, None
    known = error_codes.CATALOGUE.get(code)
    return code, form.get("ErrorMessage") or (known.message if known else "Delivery failed")


def _parse_uuid(text: str | None) -> uuid.UUID | None:
    if not text:
        return None
    try:
        return uuid.UUID(hex=text)
    except ValueError:
        return None


def _parse_int(text: str | None) -> int | None:
    """An int4 (the columns that hold it), or None."""
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if -(2**31) <= value < 2**31 else None
