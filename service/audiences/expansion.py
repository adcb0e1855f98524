"""Expanding a send's profiles, audiences and staged recipients into messages, in the workers,
page by page.

A send of more than messages.logic.STAGED_OVER addresses is accepted with its recipients staged
(validated and routed, in chunks: migrations/0023), not as messages: storing 10,000 message rows
with their index entries took the accept 0.4 s. Its chunks are the first pages of its expansion,
one chunk a page, each deleted in the transaction that inserts its messages.

A send that names profiles (`{profileId}`) or audiences (`{audienceId}`) is accepted with only
those references (operations.expansion, migrations/0021): it answers 202 as fast as a send to
one address. A worker then walks the UNION of all its profile sources in profile id order, a
keyset page at a time (store.profile_page), so a profile named directly and through two
audiences is one row of the walk and gets one message, by construction.

Each page is one transaction: lock the operation row, read the cursor, insert the page's
messages (the accept's own row-building, service/messages/logic.message_records, and COPY: the
same sending rules, routes, pacing, events and stats), then move the cursor and the operation's
total, and commit. A worker killed mid-page loses the page's transaction, not a message; the
next worker starts after the last committed cursor, so nothing is inserted twice. A session
advisory lock keeps a second worker from walking the same operation meanwhile (pages would
still never overlap: each takes the operation row lock and reads the cursor under it).

Memory is one page, whatever the audience size. The operation stays PROCESSING (or SCHEDULED)
until the last page is in (`expanding`): complete_operations skips it until then, and the
expansion completes it itself when its messages were all processed first.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import structlog

from service import ids
from service.audiences import filters, store
from service.clock import Clock
from service.messages import logic as messages
from service.messages import phone
from service.messages import store as message_store
from service.messages.templates import PROFILE_ATTRIBUTES, PROFILE_PREFIX
from service.messages.validation import (
    RECIPIENT_CHANNELS,
    PlannedRecipient,
    Schedule,
    SendPlan,
    plan_routes,
)
from service.sending import store as sending_store

log = structlog.get_logger(__name__)

# Profiles made into messages per transaction: large enough that per-page costs (the page
# query, the senders' backlog) are small beside the COPY, small enough that a page's
# transaction is short and its memory a few megabytes.
PAGE_SIZE = 2_000


async def expand_operation(
    pool: asyncpg.Pool,
    operation_id: uuid.UUID,
    *,
    clock: Clock,
    unregistered_mps: float | None = None,
    page_size: int = PAGE_SIZE,
    run_for_s: float = 30.0,
    max_pages: int | None = None,
) -> int:
    """Expand the operation's profile sources, page after page, for about run_for_s at most;
    return the messages inserted. Nothing (0) when another worker is expanding it, or it has
    nothing to expand; what is left after run_for_s is taken up by expand_pending."""
    # Most sends have no profiles or audiences: one read by primary key tells, instead of the
    # lock, a page's transaction and the completion of an expansion that never was.
    if not await store.has_profile_sources(pool, operation_id):
        return 0
    inserted = 0
    until = time.monotonic() + run_for_s
    async with pool.acquire() as conn:
        if not await store.try_expansion_lock(conn, operation_id):
            return 0
        try:
            finished = False
            pages = 0
            # The senders' room left, carried from page to page of this run (see _capacity).
            room: dict[str, int] = {}
            while not finished and time.monotonic() < until:
                if max_pages is not None and pages >= max_pages:
                    break
                added, finished = await _expand_page(
                    conn, pool, operation_id, clock(), unregistered_mps, page_size, room
                )
                inserted += added
                pages += 1
        finally:
            await store.release_expansion_lock(conn, operation_id)
    if finished:
        # Its messages may all be processed already (or there were none): the batches that
        # processed them could not complete it while it was expanding.
        await sending_store.complete_operations(pool, [operation_id], clock())
        log.info(
            "expansion finished",
            operation_id=ids.encode(ids.OPERATION, operation_id),
            inserted=inserted,
        )
    return inserted


async def expand_pending(
    pool: asyncpg.Pool,
    *,
    clock: Clock,
    unregistered_mps: float | None = None,
    page_size: int = PAGE_SIZE,
    run_for_s: float = 240.0,
) -> int:
    """Take up expansions no worker is on (a lost enqueue, a killed worker): the periodic job."""
    inserted = 0
    until = time.monotonic() + run_for_s
    for operation_id in await store.expanding_operations(pool, 100):
        left = until - time.monotonic()
        if left <= 0:
            break
        inserted += await expand_operation(
            pool,
            operation_id,
            clock=clock,
            unregistered_mps=unregistered_mps,
            page_size=page_size,
            run_for_s=left,
        )
    return inserted


async def _expand_page(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    operation_id: uuid.UUID,
    now: datetime,
    unregistered_mps: float | None,
    page_size: int,
    room: dict[str, int],
) -> tuple[int, bool]:
    """One page in one transaction: its messages, the cursor and the total. Returns the
    messages inserted and whether the expansion is over."""
    async with conn.transaction():
        state = await store.lock_expansion(conn, operation_id)
        if state is None or not state.expanding or state.expansion is None:
            return 0, True
        expansion = state.expansion
        plan = _send_plan(state, expansion)
        canceled = state.status == "CANCELED"
        if expansion.get("staged"):
            # A large send's own recipients first, a staged chunk a page (migrations/0023);
            # once canceled, as CANCELED messages: every recipient it accepted is counted.
            chunk = await message_store.next_staged_chunk(conn, operation_id)
            if chunk is not None:
                recipients = messages.staged_recipients(chunk.recipients)
                added = await _insert_page(
                    conn,
                    pool,
                    state,
                    plan,
                    recipients,
                    now,
                    unregistered_mps=unregistered_mps,
                    room=room,
                    canceled=canceled,
                )
                await message_store.drop_staged_chunk(conn, operation_id, chunk.chunk)
                sources = expansion["profiles"] or expansion["audiences"]
                finished = not chunk.more and (canceled or not sources)
                # The accept counted staged recipients in the total already.
                await store.advance_expansion(
                    conn,
                    operation_id,
                    cursor=state.expansion_cursor,
                    added=0,
                    finished=finished,
                    now=now,
                )
                return added, finished
        if canceled:
            # Canceled meanwhile: the rest of its profiles get no message.
            await store.advance_expansion(
                conn, operation_id, cursor=state.expansion_cursor, added=0, finished=True, now=now
            )
            return 0, True
        audiences = await store.audiences_of(
            conn, [uuid.UUID(a) for a in expansion["audiences"]], state.account_sid
        )
        audience_filters = []
        for _, stored in audiences:
            if stored is not None:
                checked, _ = filters.check_filter(stored)
                if checked is not None:
                    audience_filters.append(checked)
        page = await store.profile_page(
            conn,
            account_sid=state.account_sid,
            after=state.expansion_cursor,
            limit=page_size,
            profile_ids=[uuid.UUID(p) for p in expansion["profiles"]],
            static_audiences=[audience_id for audience_id, f in audiences if f is None],
            audience_filters=audience_filters,
        )
        first = int(expansion.get("firstPosition", 0)) + state.total
        recipients = [
            _recipient(profile, plan.senders, first + index)
            for index, profile in enumerate(p for p in page if p.id is not None)
        ]
        added = await _insert_page(
            conn, pool, state, plan, recipients, now, unregistered_mps=unregistered_mps, room=room
        )
        finished = len(page) < page_size
        await store.advance_expansion(
            conn,
            operation_id,
            cursor=page[-1].source_id if page else state.expansion_cursor,
            added=added,
            finished=finished,
            now=now,
        )
    return added, finished


async def _insert_page(
    conn: asyncpg.Connection,
    pool: asyncpg.Pool,
    state: store.ExpansionState,
    plan: SendPlan,
    recipients: list[PlannedRecipient],
    now: datetime,
    *,
    unregistered_mps: float | None,
    room: dict[str, int],
    canceled: bool = False,
) -> int:
    """A page's recipients as messages (the accept's rows and rules), or as CANCELED ones
    (status and due time as a cancel leaves a waiting message); how many."""
    if not recipients:
        return 0
    capacity = None
    if not canceled:
        capacity = await _capacity(pool, plan, recipients, unregistered_mps, now, room)
    records, _ = messages.message_records(
        plan, recipients, state.id, state.account_sid, capacity, now
    )
    # Created with the send, like its other messages: the lists' order (created_at, then id)
    # keeps a send's messages together, and the tag filter reads them per send.
    records = [msgspec.structs.replace(r, created_at=state.created_at) for r in records]
    if canceled:
        records = [
            msgspec.structs.replace(r, status="CANCELED", due_at=None)
            if r.status in ("SCHEDULED", "QUEUED")
            else r
            for r in records
        ]
    await message_store.copy_messages(conn, records)
    if capacity is not None:
        for record in records:
            if record.status == "QUEUED" and record.sender_key in room:
                room[record.sender_key] -= 1
    return len(records)


async def _capacity(
    pool: asyncpg.Pool,
    plan: SendPlan,
    recipients: list[PlannedRecipient],
    unregistered_mps: float | None,
    now: datetime,
    room: dict[str, int],
) -> dict[str, int] | None:
    """The senders' room for this page (the accept's queue-overflow rule, service/messages/
    logic.queue_capacity). A sender's backlog is counted once per run, when a page first
    needs it, then the room left is carried on (`room`, less what each page queued): counting
    a backlog that the run's own pages keep growing, page after page, would cost the square
    of the audience size. None when the send is scheduled (checked when due)."""
    if plan.schedule is not None:
        return None
    unseen = [r for r in recipients if r.routes and r.routes[0].sender_key not in room]
    if unseen:
        page = SendPlan(
            unseen, plan.content, plan.senders, plan.tags, plan.validity_period, plan.schedule
        )
        room.update(await messages.queue_capacity(pool, page, unregistered_mps, now) or {})
    return dict(room)


def _send_plan(state: store.ExpansionState, expansion: dict[str, Any]) -> SendPlan:
    schedule = None
    stored = expansion.get("schedule")
    if stored:
        schedule = Schedule(
            instant=datetime.fromisoformat(stored["instant"]) if stored.get("instant") else None,
            local=datetime.fromisoformat(stored["local"]) if stored.get("local") else None,
        )
    return SendPlan(
        recipients=[],
        content=state.content,
        senders=list(expansion.get("senders") or []),
        tags=state.tags,
        validity_period=state.validity_period,
        schedule=schedule,
    )


def _recipient(
    profile: store.PageProfile, senders: list[dict[str, str]], position: int
) -> PlannedRecipient:
    """A profile as a recipient: its usable addresses, in order, are its routes (through the
    send's senders, as for an `addresses` recipient); none usable makes it unaddressable."""
    addresses: list[tuple[str, str]] = []
    for item in profile.addresses or []:
        if not isinstance(item, dict):
            continue
        channel = str(item.get("channel", "")).upper()
        channel = "PHONE" if channel == "SMS" else channel
        address = str(item.get("address", ""))
        if channel == "WHATSAPP":
            address = address.removeprefix("whatsapp:")
        if channel in RECIPIENT_CHANNELS and phone.is_possible_e164(address):
            addresses.append((channel, address))
    routes = plan_routes(senders, addresses)
    if routes:
        channel, address = routes[0].recipient_channel, routes[0].to
    elif addresses:
        channel, address = addresses[0]
    else:
        channel, address = "PHONE", ""
    assert profile.id is not None
    return PlannedRecipient(
        position=position,
        channel=channel,
        address=address,
        variables=profile_variables(profile.id, profile.attributes or {}),
        routes=routes,
        time_zone=profile.time_zone,
    )


def profile_variables(profile_id: uuid.UUID, attributes: dict[str, Any]) -> dict[str, str]:
    """A profile as a message's variables, flat (`profile.attributes.firstName`); templates
    read them nested (service/messages/templates.py)."""
    variables = {PROFILE_PREFIX + "id": ids.encode(ids.PROFILE, profile_id)}
    for name, value in attributes.items():
        variables[PROFILE_ATTRIBUTES + name] = _text(value)
    return variables


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return msgspec.json.encode(value).decode()
