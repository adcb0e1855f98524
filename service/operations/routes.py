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
from service import ids
from service.auth import account_sid_of
from service.openapi import examples
from service.operations import logic
from service.query_params import (
    EndDateParam,
    PageSizeParam,
    PageTokenParam,
    StartDateParam,
    TagsParam,
)
from service.state import AppState

OperationIdPath = Annotated[
    str,
    PathParameter(
        description="The operation's id (comms_operation_…).",
        schema_extra={"pattern": ids.pattern(ids.OPERATION), "examples": [examples.OPERATION_ID]},
    ),
]
OperationStatusParam = Annotated[
    str | None,
    QueryParameter(
        name="status",
        description=OPERATION_STATUS_FILTER_TEXT,
        schema_extra={
            "title": "OperationStatus",
            "enum": list(logic.OPERATION_STATUSES),
            "examples": ["COMPLETED"],
        },
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
        response_description="A page of operations.",
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
        description="Its status and exact counts of its messages by status (the eight status "
        "counts always sum to `total`). They keep changing after COMPLETED as receipts and "
        "fallback attempts arrive; the status never goes back.",
        response_description="The operation.",
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operationId: OperationIdPath,
    ) -> OperationRead:
        return await logic.get_operation(
            comms.reads, account_sid=account_sid_of(request), operation_id=operationId
        )

    @post(
        "/{operationId:str}/Cancel",
        status_code=202,
        operation_id="CancelOperation",
        summary="Cancel the messages not yet handed to a provider",
        description="Cancels every SCHEDULED or QUEUED message a worker has not yet handed to a "
        "provider, in one step; the operation becomes CANCELED. Nothing left to cancel: 409, "
        "code 30409.",
        response_description="Canceled: the messages not yet handed to a provider are CANCELED "
        "and the operation is CANCELED. `Location` is the operation's URL.",
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
        response_description="A page of the operation's failed messages, and the counts.",
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
            base_url=comms.base_url,
        )
