"""HTTP routes of the Messages resource (thin: decode, one logic call, encode)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, HeaderParameter, PathParameter, QueryParameter
from litestar.response import Redirect

from schemas.common import PAGE_SIZE_DEFAULT
from schemas.messages import (
    ADDRESS_FILTER_TEXT,
    CHANNEL_FILTER_TEXT,
    STATUS_FILTER_TEXT,
    DryRunResult,
    MessageDetail,
    MessagesPage,
    SearchMessagesRequest,
    SendMessagesAccepted,
    SendMessagesRequest,
)
from service import error_codes, ids, queue
from service.auth import account_sid_of
from service.errors import ApiError
from service.idempotency.logic import MAX_KEY_LENGTH
from service.messages import dryrun, logic
from service.openapi import examples
from service.query_params import (
    EndDateParam,
    PageSizeParam,
    PageTokenParam,
    StartDateParam,
    TagsParam,
)
from service.state import AppState

StatusParam = Annotated[
    str | None,
    QueryParameter(
        name="status",
        description=STATUS_FILTER_TEXT,
        schema_extra={
            "title": "MessageStatus",
            "enum": list(logic.MESSAGE_STATUSES),
            "examples": ["FAILED"],
        },
    ),
]
ChannelParam = Annotated[
    str | None,
    QueryParameter(
        name="channel",
        description=CHANNEL_FILTER_TEXT,
        schema_extra={
            "title": "RecipientChannel",
            "enum": list(logic.RECIPIENT_CHANNELS),
            "examples": ["WHATSAPP"],
        },
    ),
]
AddressParam = Annotated[
    str | None,
    QueryParameter(
        name="address", description=ADDRESS_FILTER_TEXT, schema_extra={"examples": ["+15558675310"]}
    ),
]
OperationIdParam = Annotated[
    str | None,
    QueryParameter(
        name="operationId",
        description="Messages of one operation.",
        schema_extra={
            "pattern": ids.pattern(ids.OPERATION),
            "examples": [examples.OPERATION_ID],
        },
    ),
]
SendBody = Annotated[SendMessagesRequest, Body(media_type=RequestEncodingType.JSON)]


class DryRunMoved(ApiError):
    """dryRun is not offered on the send: POST /v1/Messages/DryRun previews a send."""

    status_code = 400
    code = error_codes.INVALID_FIELD.code


class MessagesController(Controller):
    path = "/Messages"
    tags = ["Messages"]

    @post(
        "/",
        status_code=202,
        operation_id="SendMessages",
        summary="Send messages to up to 10,000 recipients",
        description="Validates the whole request (answering 400 with every problem found), "
        "stores the operation and its messages, then answers 202; sending happens afterwards "
        "in workers, at each sender's rate. A repeat with the same `Idempotency-Key` and body "
        "replays the first answer (`Idempotent-Replayed: true`). To preview a send without "
        "storing or sending anything, use POST /v1/Messages/DryRun (`dryRun=true` here is "
        "refused with 400).",
        response_description="Accepted: the operation and all its messages are stored.",
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        data: SendBody,
        comms: NamedDependency[AppState],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                description="(ext) 1..255 characters of your choosing, kept 24 h per account: "
                "a repeat with the same body replays the first answer; another body → 422; "
                "while the first is in flight → 409.",
                schema_extra={
                    "minLength": 1,
                    "maxLength": MAX_KEY_LENGTH,
                    "examples": ["welcome-2026-11-25-batch-7"],
                },
            ),
        ] = None,
    ) -> Response[SendMessagesAccepted]:
        if request.query_params.get("dryRun", "false").lower() not in ("false", "0"):
            raise DryRunMoved(context="$.dryRun")
        accepted = await logic.send_messages(
            comms.pool,
            account_sid=account_sid_of(request),
            request=data,
            raw_body=await request.body(),
            idempotency_key=idempotency_key,
            now=comms.clock(),
            unregistered_mps=comms.settings.unregistered_sender_mps,
            allow_loopback=comms.settings.webhook_loopback_allowed,
        )
        if accepted.due_now:
            # Stored already: without this job (Redis away), the worker's send_due sends it.
            await queue.hint_dispatch(comms.redis, accepted.operation_id, comms.redis_outages)
        location = logic.operation_url(comms.base_url, accepted.operation_id)
        operation = ids.encode(ids.OPERATION, accepted.operation_id)
        headers = {
            "Location": location,
            "operation-location": location,
            "operation-id": operation,
            "resource-location": f"{comms.base_url}/v1/Messages?operationId={operation}",
        }
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            SendMessagesAccepted(
                operation_id=operation,
                operation_location=location,
                status_callback_secret=accepted.status_callback_secret,
            ),
            status_code=202,
            headers=headers,
        )

    @post(
        "/DryRun",
        status_code=200,
        operation_id="DryRunMessages",
        summary="Preview a send without storing or sending anything (ext)",
        description="Takes the body of Send Messages and checks it the same way (400 with "
        "every problem). Answers, per recipient, the rendered text, its encoding and "
        "segments, the chosen channel and sender, the scheduled time and whether it would be "
        "suppressed (opted out); and per sender, when it would be done at its rate behind its "
        "backlog. Nothing is stored or enqueued; an Idempotency-Key is ignored.",
        response_description="What the send would do.",
    )
    async def dry_run(
        self,
        request: Request[Any, Any, Any],
        data: SendBody,
        comms: NamedDependency[AppState],
    ) -> DryRunResult:
        return await dryrun.preview_send(
            comms.pool,
            account_sid=account_sid_of(request),
            request=data,
            now=comms.clock(),
            base_url=comms.base_url,
            unregistered_mps=comms.settings.unregistered_sender_mps,
            allow_loopback=comms.settings.webhook_loopback_allowed,
        )

    @get(
        "/",
        operation_id="ListMessages",
        summary="List messages, newest first",
        description="Every filter given must match (AND). Pages are keyset cursors: rows that "
        "arrive meanwhile never shift a page.",
        response_description="A page of messages.",
    )
    async def list_messages(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operation_id: OperationIdParam = None,
        status: StatusParam = None,
        channel: ChannelParam = None,
        address: AddressParam = None,
        tags: TagsParam = None,
        start_date: StartDateParam = None,
        end_date: EndDateParam = None,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> MessagesPage:
        return await logic.list_messages(
            comms.reads,
            account_sid=account_sid_of(request),
            operation_id=operation_id,
            status=status,
            channel=channel,
            address=address,
            tags=tags,
            start_date=start_date,
            end_date=end_date,
            page_size=page_size,
            page_token=page_token,
            base_url=comms.base_url,
        )

    @post(
        "/Search",
        status_code=200,
        operation_id="SearchMessages",
        summary="Search messages, newest first",
        description="The filters of List Messages in a JSON body (`tags` as a map); paging by "
        "query parameters.",
        response_description="A page of messages.",
    )
    async def search(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[SearchMessagesRequest, Body(media_type=RequestEncodingType.JSON)],
        comms: NamedDependency[AppState],
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> MessagesPage:
        return await logic.search_messages(
            comms.reads,
            account_sid=account_sid_of(request),
            request=data,
            page_size=page_size,
            page_token=page_token,
            base_url=comms.base_url,
        )

    @get(
        "/Seek",
        status_code=307,
        operation_id="SeekMessage",
        summary="Find the message that owns a provider SID",
        description="Redirects (307) to the message one of whose attempts has this provider SID "
        "(SM…, MM… or IM…), under the prefix asked (/v1 or /preview).",
        response_description="The message's URL is in `Location`.",
    )
    async def seek(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        identifier: Annotated[
            str,
            QueryParameter(
                description="A provider SID of one of the message's attempts.",
                min_length=1,
                max_length=64,
                schema_extra={"examples": [examples.PROVIDER_SID]},
            ),
        ],
    ) -> Redirect:
        message_id = await logic.seek_message(
            comms.pool, account_sid=account_sid_of(request), identifier=identifier
        )
        prefix = "/preview" if request.url.path.startswith("/preview/") else "/v1"
        return Redirect(logic.message_url(comms.base_url, message_id, prefix), status_code=307)

    @get(
        "/{messageId:str}",
        operation_id="FetchMessage",
        summary="Fetch a message",
        description="The message with its content as rendered for the recipient and every "
        "attempt to deliver it (one per channel tried), each with its provider SID, status "
        "and error.",
        response_description="The message.",
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        messageId: Annotated[
            str,
            PathParameter(
                description="The message's id (comms_message_…).",
                schema_extra={
                    "pattern": ids.pattern(ids.MESSAGE),
                    "examples": [examples.MESSAGE_ID],
                },
            ),
        ],
    ) -> MessageDetail:
        return await logic.get_message(
            comms.pool,
            account_sid=account_sid_of(request),
            message_id=messageId,
            base_url=comms.base_url,
        )
