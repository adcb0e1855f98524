"""HTTP route of events (ext): an operation's events as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter, PathParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from schemas.events import CloudEvent, MessageCloudEvent
from service.auth import account_sid_of
from service.events import logic
from service.openapi import ERROR_RESPONSES
from service.state import AppState

OperationIdPath = Annotated[str, PathParameter(description="comms_operation_…")]

_SSE_EXAMPLE = (
    "id: 4711\n"
    "event: com.twilio.comms-api.message.delivered\n"
    'data: {"id":"4711","source":"https://comms.example/v1/Messages/Operations/comms_operation_'
    '01m8h0jzqsechs3yv6kh2qxj5m","type":"com.twilio.comms-api.message.delivered",'
    '"time":"2026-11-25T10:00:01.250Z","data":{"operation_id":"comms_operation_'
    '01m8h0jzqsechs3yv6kh2qxj5m","message_id":"comms_message_01m8h0jzqtf5v9w3b8m2n6k4x1",'
    '"downstream_id":"SM0123456789abcdef0123456789abcdef","attempt":1,"error_code":null,'
    '"from":{"address":"+15017122661","channel":"SMS"},"to":{"address":"+15558675310",'
    '"channel":"PHONE"},"tags":{"campaign":"spring"}},"specversion":"1.0",'
    '"datacontenttype":"application/json","subject":"comms_message_01m8h0jzqtf5v9w3b8m2n6k4x1"}'
    "\n\n"
)
EVENT_STREAM = ResponseSpec(
    data_container=MessageCloudEvent,
    media_type="text/event-stream",
    generate_examples=False,
    description="A stream of Server-Sent Events: `id:` is the event's increasing number, "
    "`event:` its CloudEvents type, `data:` the CloudEvent as JSON (the same body webhooks "
    "get; the schema shows a message event, an operation event's `data` is `{operation_id}` "
    "and it has no `subject`). "
    "Operation events (scheduled, processing, completed, canceled) and message events (queued, "
    "sent, delivered, undelivered, failed, read) come in the order they happened. The stream "
    "ends once the operation is COMPLETED or CANCELED and every message is terminal.",
    examples=[Example(summary="One event", value=_SSE_EXAMPLE)],
)


def _sse_message(event: CloudEvent) -> ServerSentEventMessage:
    return ServerSentEventMessage(
        data=msgspec.json.encode(event).decode(), event=event.type, id=event.id
    )


class OperationEventsController(Controller):
    path = "/Messages/Operations"
    tags = ["Operations"]

    @get(
        "/{operationId:str}/Events",
        operation_id="StreamOperationEvents",
        summary="Follow an operation's events (Server-Sent Events) (ext)",
        description="Every status change of the operation and of its messages, in order, as "
        "they happen. Reconnect with `Last-Event-ID` to resume after the last event received.",
        responses={**ERROR_RESPONSES, 200: EVENT_STREAM},
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
                description="Resume after this event id (what the last `id:` said).",
                schema_extra={"examples": ["4711"]},
            ),
        ] = None,
    ) -> ServerSentEvent:
        events = await logic.open_operation_stream(
            comms.pool,
            account_sid=account_sid_of(request),
            operation_id=operationId,
            last_event_id=last_event_id,
            base_url=comms.base_url,
            poll_s=comms.settings.sse_poll_interval_s,
        )

        async def messages() -> AsyncIterator[ServerSentEventMessage]:
            async for event in events:
                yield _sse_message(event) if event else ServerSentEventMessage(comment="idle")

        return ServerSentEvent(messages())
