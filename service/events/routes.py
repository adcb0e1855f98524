"""HTTP route of events (ext): an operation's events as Server-Sent Events."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from schemas.events import CloudEvent
from service.auth import account_sid_of
from service.events import logic
from service.openapi import examples
from service.operations.routes import OperationIdPath
from service.state import AppState

_SSE_EXAMPLE = "".join(
    f"id: {event.id}\nevent: {event.type}\ndata: {msgspec.json.encode(event).decode()}\n\n"
    for event in (examples.MESSAGE_DELIVERED, examples.OPERATION_COMPLETED)
)
EVENT_STREAM = ResponseSpec(
    data_container=str,
    media_type="text/event-stream",
    generate_examples=False,
    description="A stream of Server-Sent Events: `id:` is the event's increasing number, "
    "`event:` its CloudEvents type, `data:` the CloudEvent as JSON (the `CloudEvent` schema: "
    "the same body webhooks get). Operation events (scheduled, processing, completed, "
    "canceled) and message events (queued, sent, delivered, undelivered, failed, read) come "
    "in the order they happened; a comment line (`: idle`) keeps an idle stream open. The "
    "stream ends once the operation is COMPLETED or CANCELED and every message is terminal.",
    examples=[Example(id="example", summary="Two events", value=_SSE_EXAMPLE)],
)


class _Encoded(ServerSentEventMessage):
    """A message encoded once: every stream of an operation sends the same events."""

    def __init__(self, encoded: bytes) -> None:
        super().__init__()
        self._encoded = encoded

    def encode(self) -> bytes:
        return self._encoded


# The latest events encoded, by id and source (the source names the deployment).
ENCODED_KEPT = 4_096
_ENCODED: OrderedDict[tuple[str, str], ServerSentEventMessage] = OrderedDict()


def _sse_message(event: CloudEvent) -> ServerSentEventMessage:
    key = (event.id, event.source)
    message = _ENCODED.get(key)
    if message is None:
        plain = ServerSentEventMessage(
            data=msgspec.json.encode(event).decode(), event=event.type, id=event.id
        )
        message = _ENCODED[key] = _Encoded(plain.encode())
        if len(_ENCODED) > ENCODED_KEPT:
            _ENCODED.popitem(last=False)
    return message


class OperationEventsController(Controller):
    path = "/Messages/Operations"
    tags = ["Operations"]

    @get(
        "/{operationId:str}/Events",
        operation_id="StreamOperationEvents",
        summary="Follow an operation's events (Server-Sent Events) (ext)",
        description="Every status change of the operation and of its messages, in order, as "
        "they happen. Reconnect with `Last-Event-ID` to resume after the last event received.",
        responses={200: EVENT_STREAM},
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operationId: OperationIdPath,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="Last-Event-ID",
                description="Resume after this event id (what the last `id:` said); a "
                "browser's EventSource sends it when it reconnects.",
                schema_extra={"examples": ["4711"]},
            ),
        ] = None,
    ) -> ServerSentEvent:
        events = await logic.open_operation_stream(
            comms.pool,
            comms.feed,
            account_sid=account_sid_of(request),
            operation_id=operationId,
            last_event_id=last_event_id,
            base_url=comms.base_url,
        )

        async def messages() -> AsyncIterator[ServerSentEventMessage]:
            async for event in events:
                yield _sse_message(event) if event else ServerSentEventMessage(comment="idle")

        return ServerSentEvent(messages())
