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
from service.auth import account_sid_of
from service.openapi import ERROR_RESPONSES, SENDER_EXISTS_RESPONSES
from service.query_params import PageSizeParam, PageTokenParam
from service.senders import logic
from service.state import AppState


class SendersController(Controller):
    path = "/Senders"
    tags = ["Senders"]

    @post(
        "/",
        status_code=201,
        operation_id="CreateSender",
        summary="Register a sender",
        responses={**ERROR_RESPONSES, **SENDER_EXISTS_RESPONSES},
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
        responses=ERROR_RESPONSES,
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
        responses=ERROR_RESPONSES,
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderId: Annotated[str, PathParameter(description="comms_sender_…")],
    ) -> SenderRead:
        return await logic.get_sender(
            comms.pool, account_sid=account_sid_of(request), sender_id=senderId
        )

    @delete(
        "/{senderId:str}",
        operation_id="DeleteSender",
        summary="Remove a sender",
        responses=ERROR_RESPONSES,
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderId: Annotated[str, PathParameter(description="comms_sender_…")],
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
        responses=ERROR_RESPONSES,
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
        responses=ERROR_RESPONSES,
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
        responses=ERROR_RESPONSES,
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderPoolId: Annotated[str, PathParameter(description="comms_senderpool_…")],
    ) -> SenderPoolRead:
        return await logic.get_pool(
            comms.pool, account_sid=account_sid_of(request), pool_id=senderPoolId
        )

    @patch(
        "/{senderPoolId:str}",
        operation_id="UpdateSenderPool",
        summary="Change a sender pool",
        responses=ERROR_RESPONSES,
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        data: SenderPoolUpdate,
        comms: NamedDependency[AppState],
        senderPoolId: Annotated[str, PathParameter(description="comms_senderpool_…")],
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
        responses=ERROR_RESPONSES,
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        senderPoolId: Annotated[str, PathParameter(description="comms_senderpool_…")],
    ) -> None:
        await logic.delete_pool(
            comms.pool, account_sid=account_sid_of(request), pool_id=senderPoolId
        )
