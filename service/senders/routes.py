"""HTTP routes of the Senders resource (ext)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import PathParameter

from schemas.common import PAGE_SIZE_DEFAULT
from schemas.senders import (
    SenderCreate,
    SenderPoolCreate,
    SenderPoolRead,
    SenderPoolsPage,
    SenderPoolUpdate,
    SenderRead,
    SendersPage,
)
from service import ids
from service.auth import account_sid_of
from service.openapi import examples
from service.query_params import PageSizeParam, PageTokenParam
from service.senders import logic
from service.state import AppState

SenderIdPath = Annotated[
    str,
    PathParameter(
        description="The sender's id (comms_sender_…).",
        schema_extra={"pattern": ids.pattern(ids.SENDER), "examples": [examples.SENDER_ID]},
    ),
]
SenderPoolIdPath = Annotated[
    str,
    PathParameter(
        description="The sender pool's id (comms_senderpool_…).",
        schema_extra={
            "pattern": ids.pattern(ids.SENDER_POOL),
            "examples": [examples.SENDER_POOL_ID],
        },
    ),
]


class SendersController(Controller):
    path = "/Senders"
    tags = ["Senders"]

    @post(
        "/",
        status_code=201,
        operation_id="CreateSender",
        summary="Register a sender",
        description="A number, short code, alphanumeric id or WhatsApp sender this account "
        "sends from, with its kind and rate (message segments a second): no sender ever "
        "exceeds its rate, whatever the number of workers. An address can be registered once "
        "per channel.",
        response_description="Registered. `Location` is its URL.",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: SenderCreate,
        comms: NamedDependency[AppState],
    ) -> Response[SenderRead]:
        sender = await logic.create_sender(
            comms.pool, account_sid=account_sid_of(request), request=data, now=comms.clock()
        )
        return Response(
            sender,
            status_code=201,
            headers={"Location": f"{comms.base_url}/v1/Senders/{sender.id}"},
        )

    @get(
        "/",
        operation_id="ListSenders",
        summary="List senders, newest first",
        description="This account's senders, newest first.",
        response_description="A page of senders.",
    )
    async def list_senders(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> SendersPage:
        return await logic.list_senders(
            comms.pool,
            account_sid=account_sid_of(request),
            page_size=page_size,
            page_token=page_token,
        )

    @get(
        "/{senderId:str}",
        operation_id="FetchSender",
        summary="Fetch a sender",
        description="One of this account's senders.",
        response_description="The sender.",
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderId: SenderIdPath,
    ) -> SenderRead:
        return await logic.get_sender(
            comms.pool, account_sid=account_sid_of(request), sender_id=senderId
        )

    @delete(
        "/{senderId:str}",
        operation_id="DeleteSender",
        summary="Remove a sender",
        description="Sends that name it fail to resolve it; pools that list it no longer count it.",
        response_description="Removed.",
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderId: SenderIdPath,
    ) -> None:
        await logic.delete_sender(
            comms.pool, account_sid=account_sid_of(request), sender_id=senderId
        )


class SenderPoolsController(Controller):
    path = "/SenderPools"
    tags = ["Senders"]

    @post(
        "/",
        status_code=201,
        operation_id="CreateSenderPool",
        summary="Create a sender pool",
        description="Senders in priority order, for `from: {senderPoolId}`: a recipient is "
        "tried on the first sender's channel that reaches it, then on the next (fallback). "
        "`isDefault` makes it the pool of sends without `from`.",
        response_description="Created. `Location` is its URL.",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: SenderPoolCreate,
        comms: NamedDependency[AppState],
    ) -> Response[SenderPoolRead]:
        created = await logic.create_pool(
            comms.pool, account_sid=account_sid_of(request), request=data, now=comms.clock()
        )
        return Response(
            created,
            status_code=201,
            headers={"Location": f"{comms.base_url}/v1/SenderPools/{created.id}"},
        )

    @get(
        "/",
        operation_id="ListSenderPools",
        summary="List sender pools, newest first",
        description="This account's sender pools, newest first.",
        response_description="A page of sender pools.",
    )
    async def list_pools(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> SenderPoolsPage:
        return await logic.list_pools(
            comms.pool,
            account_sid=account_sid_of(request),
            page_size=page_size,
            page_token=page_token,
        )

    @get(
        "/{senderPoolId:str}",
        operation_id="FetchSenderPool",
        summary="Fetch a sender pool",
        description="One of this account's sender pools with its senders.",
        response_description="The sender pool.",
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderPoolId: SenderPoolIdPath,
    ) -> SenderPoolRead:
        return await logic.get_pool(
            comms.pool, account_sid=account_sid_of(request), pool_id=senderPoolId
        )

    @patch(
        "/{senderPoolId:str}",
        operation_id="UpdateSenderPool",
        summary="Change a sender pool",
        description="Changes the fields given; the others stay.",
        response_description="The sender pool as changed.",
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        data: SenderPoolUpdate,
        comms: NamedDependency[AppState],
        senderPoolId: SenderPoolIdPath,
    ) -> SenderPoolRead:
        return await logic.update_pool(
            comms.pool,
            account_sid=account_sid_of(request),
            pool_id=senderPoolId,
            request=data,
            now=comms.clock(),
        )

    @delete(
        "/{senderPoolId:str}",
        operation_id="DeleteSenderPool",
        summary="Remove a sender pool",
        description="Sends that name it fail to resolve it.",
        response_description="Removed.",
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderPoolId: SenderPoolIdPath,
    ) -> None:
        await logic.delete_pool(
            comms.pool, account_sid=account_sid_of(request), pool_id=senderPoolId
        )
