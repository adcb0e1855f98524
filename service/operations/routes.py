"""HTTP routes of the Operations resource."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from schemas.operations import OperationRead
from service.auth import account_sid_of
from service.openapi import ERROR_RESPONSES
from service.operations import logic
from service.state import AppState


class OperationsController(Controller):
    path = "/Messages/Operations"
    tags = ["Operations"]

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
        operationId: Annotated[str, PathParameter(description="comms_operation_…")],
    ) -> OperationRead:
        return await logic.get_operation(
            comms.pool, account_sid=account_sid_of(request), operation_id=operationId
        )
