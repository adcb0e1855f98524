"""HTTP routes of the Operations resource (thin: decode, one logic call, encode)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from schemas.common import PAGE_SIZE_DEFAULT
from schemas.operations import (
    OPERATION_STATUS_FILTER_TEXT,
    CancelOperationAccepted,
    OperationErrorsPage,
    OperationRead,
    OperationsPage,
)
from service.auth import account_sid_of
from service.openapi import (
    CANCEL_ACCEPTED,
    CANCEL_RESPONSES,
    ERROR_RESPONSES,
    OPERATION_ERRORS_PAGE,
)
from service.operations import logic
from service.query_params import (
    EndDateParam,
    PageSizeParam,
    PageTokenParam,
    StartDateParam,
    TagsParam,
)
from service.state import AppState

OperationIdPath = Annotated[str, PathParameter(description="comms_operation_…")]
OperationStatusParam = Annotated[
    str | None,
    QueryParameter(
        name="status",
        description=OPERATION_STATUS_FILTER_TEXT,
        schema_extra={"enum": list(logic.OPERATION_STATUSES)},
    ),
]


class OperationsController(Controller):
    path = "/Messages/Operations"
    tags = ["Operations"]

    @get(
        "/",
        operation_id="ListOperations",
        summary="List operations, newest first",
        description="Every filter given must match (AND); `tags` match the operation's tags as "
        "sent. Pages are keyset cursors: operations that arrive meanwhile never shift a page.",
        responses=ERROR_RESPONSES,
    )
    async def list_operations(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        status: OperationStatusParam = None,
        tags: TagsParam = None,
        start_date: StartDateParam = None,
        end_date: EndDateParam = None,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> OperationsPage:
        return await logic.list_operations(
            comms.pool,
            account_sid=account_sid_of(request),
            status=status,
            tags=tags,
            start_date=start_date,
            end_date=end_date,
            page_size=page_size,
            page_token=page_token,
        )

    @get(
        "/{operationId:str}",
        operation_id="FetchOperation",
        summary="Fetch an operation",
        responses=ERROR_RESPONSES,
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operationId: OperationIdPath,
    ) -> OperationRead:
        return await logic.get_operation(
            comms.pool, account_sid=account_sid_of(request), operation_id=operationId
        )

    @post(
        "/{operationId:str}/Cancel",
        status_code=202,
        operation_id="CancelOperation",
        summary="Cancel the messages not yet handed to a provider",
        description="Cancels every SCHEDULED or QUEUED message a worker has not yet handed to a "
        "provider, in one step; the operation becomes CANCELED. Nothing left to cancel: 409, "
        "code 30409.",
        responses={**ERROR_RESPONSES, **CANCEL_RESPONSES, 202: CANCEL_ACCEPTED},
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operationId: OperationIdPath,
    ) -> Response[CancelOperationAccepted]:
        key = await logic.cancel_operation(
            comms.pool,
            account_sid=account_sid_of(request),
            operation_id=operationId,
            now=comms.clock(),
        )
        accepted = logic.cancel_accepted(comms.base_url, key)
        return Response(accepted, status_code=202, headers={"Location": accepted.resource_location})

    @get(
        "/{operationId:str}/Errors",
        operation_id="ListOperationErrors",
        summary="List an operation's failed and undelivered messages",
        description="Newest first, with each message's error code and message; `counts` gives "
        "the number of FAILED and UNDELIVERED messages per error code over the whole operation "
        "(most frequent first; `code` null when the provider gave none).",
        responses={**ERROR_RESPONSES, 200: OPERATION_ERRORS_PAGE},
    )
    async def errors(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operationId: OperationIdPath,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> OperationErrorsPage:
        return await logic.list_errors(
            comms.pool,
            account_sid=account_sid_of(request),
            operation_id=operationId,
            page_size=page_size,
            page_token=page_token,
        )
