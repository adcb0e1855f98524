"""HTTP routes of the Messages resource (thin: decode, one logic call, encode)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
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
from service import ids, queue
from service.auth import account_sid_of
from service.messages import dryrun, logic
from service.openapi import (
    DRY_RUN_RESULT,
    ERROR_RESPONSES,
    IDEMPOTENCY_RESPONSES,
    SEARCH_EXAMPLE,
    SEEK_RESPONSES,
    SEND_EXAMPLE,
)
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
        schema_extra={"enum": list(logic.MESSAGE_STATUSES)},
    ),
]
ChannelParam = Annotated[
    str | None,
    QueryParameter(
        name="channel",
        description=CHANNEL_FILTER_TEXT,
        schema_extra={"enum": list(logic.RECIPIENT_CHANNELS)},
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
        schema_extra={"pattern": ids.pattern(ids.OPERATION)},
    ),
]


_ACCEPTED_HEADERS = {
    "Location": "The operation's URL",
    "operation-location": "The operation's URL",
    "operation-id": "The operation's id",
    "resource-location": "Where the operation's messages are listed",
}


class MessagesController(Controller):
    path = "/Messages"
    tags = ["Messages"]

    @post(
        "/",
        status_code=202,
        operation_id="SendMessages",
        summary="Send messages to up to 10,000 recipients",
        description="Validates and stores the operation and its messages, then answers 202; "
        "sending happens in workers. With `dryRun=true` (ext) it validates the same way and "
        "answers 200 with what each message would be, storing and sending nothing.",
        response_headers=[
            ResponseHeader(name=name, description=text, documentation_only=True)
            for name, text in _ACCEPTED_HEADERS.items()
        ],
        responses={
            **ERROR_RESPONSES,
            **IDEMPOTENCY_RESPONSES,
            202: ResponseSpec(
                data_container=SendMessagesAccepted,
                generate_examples=False,
                description="Accepted: the operation and its messages are stored",
                examples=[
                    Example(
                        value={
                            "operationId": "comms_operation_01m8h0jzqsechs3yv6kh2qxj5m",
                            "operationLocation": "https://comms.example/v1/Messages/Operations/"
                            "comms_operation_01m8h0jzqsechs3yv6kh2qxj5m",
                        }
                    )
                ],
            ),
            200: DRY_RUN_RESULT,
        },
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[
            SendMessagesRequest,
            Body(media_type=RequestEncodingType.JSON, examples=[SEND_EXAMPLE]),
        ],
        comms: NamedDependency[AppState],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name="Idempotency-Key",
                description="(ext) Replays the first answer for 24 h; another body → 422; "
                "while the first is in flight → 409.",
            ),
        ] = None,
        dry_run: Annotated[
            bool,
            QueryParameter(
                name="dryRun",
                description="(ext) Validate and preview the send (200, DryRunResult): rendered "
                "text, segments, sender, schedule and estimated completion per recipient. "
                "Nothing is stored or sent; an Idempotency-Key is ignored.",
            ),
        ] = False,
    ) -> Response[SendMessagesAccepted | DryRunResult]:
        if dry_run:
            preview = await dryrun.preview_send(
                comms.pool,
                account_sid=account_sid_of(request),
                request=data,
                now=comms.clock(),
                unregistered_mps=comms.settings.unregistered_sender_mps,
                allow_loopback=comms.settings.webhook_loopback_allowed,
            )
            return Response(preview, status_code=200)
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

    @get(
        "/",
        operation_id="ListMessages",
        summary="List messages, newest first",
        description="Every filter given must match (AND). Pages are keyset cursors: rows that "
        "arrive meanwhile never shift a page.",
        responses=ERROR_RESPONSES,
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
            comms.pool,
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
        responses=ERROR_RESPONSES,
    )
    async def search(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[
            SearchMessagesRequest,
            Body(media_type=RequestEncodingType.JSON, examples=[SEARCH_EXAMPLE]),
        ],
        comms: NamedDependency[AppState],
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> MessagesPage:
        return await logic.search_messages(
            comms.pool,
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
        "(SM…, MM… or IM…).",
        responses={**ERROR_RESPONSES, **SEEK_RESPONSES},
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
                schema_extra={"examples": ["SM0123456789abcdef0123456789abcdef"]},
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
        responses=ERROR_RESPONSES,
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        messageId: Annotated[str, PathParameter(description="comms_message_…")],
    ) -> MessageDetail:
        return await logic.get_message(
            comms.pool,
            account_sid=account_sid_of(request),
            message_id=messageId,
            base_url=comms.base_url,
        )
