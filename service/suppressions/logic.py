"""Opt-out: suppression lists, fed by recipients' STOP / START replies and by the API.

Rules (see README "Opt-out"):
- A suppression is (account, recipient address), the address as recipients' are stored (E.164,
  no `whatsapp:` prefix), so it covers every channel to that number.
- An inbound message from a handset to one of our numbers concerns the accounts that
  registered that number as a sender on the message's channel (SMS or Conversations for a
  plain number, WhatsApp for `whatsapp:`), and the accounts that sent from that number to
  that handset (their attempts), registered or not. A keyword nobody can be found for
  changes nothing.
- Suppressing cancels the address's messages of those accounts that no provider has yet
  (SCHEDULED or QUEUED, not `sending`), with cancel's guarantee: a message is never both
  canceled and sent. An operation left with nothing waiting is COMPLETED (a CANCELED one
  stays CANCELED). Messages a worker claims later fail with 21610 (service/sending/rules.py).
- Each inbound message is applied once (by its MessageSid): a repeated webhook changes
  nothing. Two different messages (STOP, then START) apply in the order they arrive; the
  provider's webhook carries no time to order them by.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import msgspec

from schemas.common import Pagination
from schemas.suppressions import SuppressionCreate, SuppressionRead, SuppressionsPage
from service import db, error_codes, filters, ids
from service.clock import rfc3339
from service.errors import NotFound, Problem, ValidationFailed
from service.messages import phone
from service.pagination import decode_token, trim_page
from service.sending import store as dispatch_store
from service.suppressions import store

# Twilio's rule: the whole body, trimmed, in any case.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
# Inbound message sids are remembered this long to recognise a repeated webhook.
INBOUND_SIDS_KEPT = timedelta(days=1)

WHATSAPP_PREFIX = "whatsapp:"

Keyword = Literal["OPT_OUT", "OPT_IN"]


def keyword_of(body: str) -> Keyword | None:
    word = body.strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return "OPT_OUT"
    if word in OPT_IN_KEYWORDS:
        return "OPT_IN"
    return None


def recipient_address(text: str) -> str | None:
    """A recipient address as stored (E.164, `whatsapp:` dropped), or None when it is not one."""
    address = text.removeprefix(WHATSAPP_PREFIX)
    return address if phone.is_possible_e164(address) else None


def present(row: store.SuppressionRow) -> SuppressionRead:
    return SuppressionRead(
        address=row.address,
        source=row.source,  # type: ignore[arg-type]
        created_at=rfc3339(row.created_at),
    )


# Suppressing and lifting, shared by inbound keywords and the API ------------------------------


async def _suppress(
    conn: asyncpg.Connection,
    account_sids: Sequence[str],
    address: str,
    source: str,
    now: datetime,
) -> tuple[list[store.SuppressionRow], set[uuid.UUID]]:
    """Suppress and cancel what waits for the address: the accounts' entries, and the
    operations whose messages were canceled."""
    rows = await store.insert_suppressions(
        conn,
        account_sids=account_sids,
        address=address,
        ids=[ids.uuid7() for _ in account_sids],
        source=source,
        now=now,
    )
    return rows, await store.cancel_waiting_to(conn, account_sids, address, now)


async def _complete(pool: asyncpg.Pool, operation_ids: set[uuid.UUID], now: datetime) -> None:
    """Operations left with nothing waiting are COMPLETED (after the cancel is committed)."""
    if operation_ids:
        await dispatch_store.complete_operations(pool, sorted(operation_ids), now)


class InboundApplied(msgspec.Struct, frozen=True):
    """What an inbound keyword did: to which accounts, for which address."""

    keyword: Keyword
    address: str
    account_sids: list[str]
    canceled_in: list[uuid.UUID]


async def apply_inbound(
    pool: asyncpg.Pool, form: dict[str, str], now: datetime
) -> InboundApplied | None:
    """Apply an incoming message's STOP / START keyword; None when it is not one or repeats."""
    keyword = keyword_of(form.get("Body", ""))
    if keyword is None:
        return None
    to = form.get("To", "")
    handset = recipient_address(form.get("From", ""))
    if handset is None or not to:
        return None
    channels = ["WHATSAPP"] if to.startswith(WHATSAPP_PREFIX) else ["SMS", "CONVERSATIONS"]
    sender_address = to.removeprefix(WHATSAPP_PREFIX)
    message_sid = form.get("MessageSid") or form.get("SmsSid")

    async def apply() -> InboundApplied | None:
        async with pool.acquire() as conn, conn.transaction():
            if message_sid and not await store.note_inbound_keyword(conn, message_sid, now):
                return None
            accounts = await store.accounts_of_sender(conn, sender_address, handset, channels)
            operations: set[uuid.UUID] = set()
            if accounts and keyword == "OPT_OUT":
                _, operations = await _suppress(conn, accounts, handset, "INBOUND", now)
            elif accounts:
                await store.delete_suppressions(conn, accounts, handset)
        return InboundApplied(keyword, handset, accounts, sorted(operations))

    applied = await db.retry_deadlocks(apply)
    if applied is not None:
        await _complete(pool, set(applied.canceled_in), now)
    return applied


# The API --------------------------------------------------------------------------------------


async def create_suppression(
    pool: asyncpg.Pool, *, account_sid: str, request: SuppressionCreate, now: datetime
) -> SuppressionRead:
    """Suppress an address for this account (again: the existing entry is answered)."""
    address = recipient_address(request.address)
    if address is None:
        raise ValidationFailed(
            [
                Problem(
                    error_codes.INVALID_TO.code, "Invalid phone number: expected E.164", "$.address"
                )
            ]
        )

    async def create() -> tuple[list[store.SuppressionRow], set[uuid.UUID]]:
        async with pool.acquire() as conn, conn.transaction():
            return await _suppress(conn, [account_sid], address, "API", now)

    rows, operations = await db.retry_deadlocks(create)
    await _complete(pool, operations, now)
    return present(rows[0])


async def list_suppressions(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    address: str | None,
    page_size: int,
    page_token: str | None,
) -> SuppressionsPage:
    problems = filters.FilterProblems()
    wanted = filters.address(address, "$.address", problems)
    problems.raise_any()
    start = decode_token(page_token)
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await db.plan_with_values(conn)
        rows = await store.list_suppressions(conn, account_sid, wanted, start, page_size + 1)
    page, next_token, self_token = trim_page(rows, page_size, start, lambda r: r.id)
    return SuppressionsPage(
        suppressions=[present(r) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )


async def delete_suppression(pool: asyncpg.Pool, *, account_sid: str, address: str) -> None:
    """Lift a suppression; an address not on the list (or not an address) is a 404."""
    stored = recipient_address(address.strip())
    if stored is None or not await store.delete_suppressions(pool, [account_sid], stored):
        raise NotFound()


async def purge_inbound_keywords(pool: asyncpg.Pool, now: datetime) -> None:
    await store.purge_inbound_keywords(pool, now - INBOUND_SIDS_KEPT)
