"""Webhook endpoints (ext): create, list, fetch, delete; their delivery log and redelivery.

Rules:
- An endpoint is an https URL whose host is public (service/webhooks/destinations.py) and a
  non-empty set of known event types; at most MAX_ENDPOINTS_PER_ACCOUNT per account.
- Its signing secret is shown once, in the create's answer; it is kept to sign deliveries.
- Another account's endpoint (or delivery) answers 404, as an unknown one does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import msgspec

from schemas.common import Pagination
from schemas.events import EVENT_TYPES
from schemas.webhooks import (
    MAX_ENDPOINTS_PER_ACCOUNT,
    DeliveriesPage,
    DeliveryAttemptRead,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhooksPage,
)
from service import error_codes, ids
from service.clock import rfc3339, rfc3339_or_none
from service.errors import NotFound, Problem, ValidationFailed
from service.pagination import decode_token, trim_page
from service.webhooks import store
from service.webhooks.destinations import RefusedDestination, check_destination


async def url_problems(url: str, context: str, *, allow_loopback: bool) -> list[Problem]:
    """Why a user-supplied URL (an endpoint's, a statusCallback) is refused; [] when it is not."""
    try:
        await check_destination(url, allow_loopback=allow_loopback, must_resolve=False)
    except RefusedDestination as exc:
        return [Problem(error_codes.INVALID_URL.code, f"Invalid URL: {exc}", context)]
    return []


def _event_type_problems(event_types: list[str]) -> list[Problem]:
    if not event_types:
        return [
            Problem(
                error_codes.INVALID_FIELD.code,
                "At least one event type is required",
                "$.eventTypes",
            )
        ]
    problems = []
    seen: set[str] = set()
    for i, event_type in enumerate(event_types):
        context = f"$.eventTypes[{i}]"
        if event_type not in EVENT_TYPES:
            problems.append(
                Problem(
                    error_codes.UNKNOWN_EVENT_TYPE.code,
                    f"Unknown event type: {event_type[:100]}",
                    context,
                )
            )
        elif event_type in seen:
            problems.append(Problem(error_codes.INVALID_FIELD.code, "Repeated event type", context))
        seen.add(event_type)
    return problems


def present_endpoint(row: store.EndpointRow) -> WebhookRead:
    return WebhookRead(
        id=ids.encode(ids.WEBHOOK, row.id),
        url=row.url,
        event_types=row.event_types,
        created_at=rfc3339(row.created_at),
    )


async def create_endpoint(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    request: WebhookCreate,
    allow_loopback: bool,
    now: datetime,
) -> WebhookCreated:
    problems = await url_problems(request.url, "$.url", allow_loopback=allow_loopback)
    problems += _event_type_problems(request.event_types)
    if problems:
        raise ValidationFailed(problems)
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_account_endpoints(conn, account_sid)
        if await store.count_endpoints(conn, account_sid) >= MAX_ENDPOINTS_PER_ACCOUNT:
            raise ValidationFailed(
                [
                    Problem(
                        error_codes.TOO_MANY_WEBHOOKS.code,
                        f"An account has at most {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints",
                        None,
                    )
                ]
            )
        row = await store.insert_endpoint(
            conn,
            endpoint_id=ids.uuid7(),
            account_sid=account_sid,
            url=request.url,
            event_types=request.event_types,
            secret=ids.signing_secret(),
            now=now,
        )
    read = present_endpoint(row)
    return WebhookCreated(
        id=read.id,
        url=read.url,
        event_types=read.event_types,
        created_at=read.created_at,
        secret=row.secret,
    )


async def list_endpoints(
    pool: asyncpg.Pool, *, account_sid: str, page_size: int, page_token: str | None
) -> WebhooksPage:
    start = decode_token(page_token)
    rows = await store.list_endpoints(pool, account_sid, start, page_size + 1)
    page, next_token, self_token = trim_page(rows, page_size, start, lambda r: r.id)
    return WebhooksPage(
        webhooks=[present_endpoint(r) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )


async def _own_endpoint(
    conn: store.Connection, account_sid: str, webhook_id: str
) -> store.EndpointRow:
    key = ids.decode(ids.WEBHOOK, webhook_id)
    row = await store.get_endpoint(conn, key, account_sid) if key else None
    if row is None:
        raise NotFound()
    return row


async def get_endpoint(pool: asyncpg.Pool, *, account_sid: str, webhook_id: str) -> WebhookRead:
    return present_endpoint(await _own_endpoint(pool, account_sid, webhook_id))


async def delete_endpoint(pool: asyncpg.Pool, *, account_sid: str, webhook_id: str) -> None:
    """Delete an endpoint with its delivery log; nothing more is sent to it."""
    key = ids.decode(ids.WEBHOOK, webhook_id)
    if key is None or not await store.delete_endpoint(pool, key, account_sid):
        raise NotFound()


def present_delivery(row: store.DeliveryRow, attempts: list[store.AttemptRow]) -> DeliveryRead:
    return DeliveryRead(
        id=ids.encode(ids.DELIVERY, row.id),
        event_id=str(row.event_id),
        event_type=row.event_type,
        operation_id=ids.encode(ids.OPERATION, row.operation_id),
        status=row.status,  # type: ignore[arg-type]
        tries=row.tries,
        next_try_at=rfc3339_or_none(row.next_try_at),
        retry_until=rfc3339(row.retry_until),
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
        attempts=[
            DeliveryAttemptRead(
                attempted_at=rfc3339(a.attempted_at),
                status_code=a.status_code,
                error=a.error,
                response_body=a.response_body,
                duration_ms=a.duration_ms,
            )
            for a in attempts
        ],
    )


class Owner(msgspec.Struct, frozen=True):
    """Whose deliveries a request is about, with ids as the API writes them: a webhook
    endpoint's, or an operation's statusCallback's."""

    webhook_id: str | None = None
    operation_id: str | None = None


async def _own_target(conn: store.Connection, account_sid: str, owner: Owner) -> store.Target:
    if owner.webhook_id is not None:
        endpoint = await _own_endpoint(conn, account_sid, owner.webhook_id)
        return store.Target(endpoint_id=endpoint.id)
    key = ids.decode(ids.OPERATION, owner.operation_id or "")
    if key is None or not await store.operation_owned(conn, key, account_sid):
        raise NotFound()
    return store.Target(operation_id=key)


async def list_deliveries(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    owner: Owner,
    page_size: int,
    page_token: str | None,
) -> DeliveriesPage:
    """An endpoint's or a statusCallback's deliveries, newest first, each with every try."""
    start = decode_token(page_token)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        target = await _own_target(conn, account_sid, owner)
        rows = await store.list_deliveries(conn, target, start, page_size + 1)
        page, next_token, self_token = trim_page(rows, page_size, start, lambda r: r.id)
        attempts = await store.delivery_attempts(conn, [r.id for r in page])
    return DeliveriesPage(
        deliveries=[present_delivery(r, attempts[r.id]) for r in page],
        pagination=Pagination(next=next_token, self=self_token),
    )


async def redeliver(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    owner: Owner,
    delivery_id: str,
    retry_window: timedelta,
    now: datetime,
) -> DeliveryRead:
    """Send a delivery again now (whatever became of it), with a new retry window."""
    key = ids.decode(ids.DELIVERY, delivery_id)
    async with pool.acquire() as conn, conn.transaction():
        target = await _own_target(conn, account_sid, owner)
        row = None
        if key is not None:
            row = await store.redeliver(conn, key, target, now, now + retry_window)
        if row is None:
            raise NotFound()
        attempts = await store.delivery_attempts(conn, [row.id])
    return present_delivery(row, attempts[row.id])
