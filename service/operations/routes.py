"""HTTP routes of the Operations resource."""

from __future__ import annotations

from typing import Annotated

from litestar.di import NamedDependency
from litestar import Controller, Request, get
from litestar.params import PathParameter

from schemas.operations import OperationRead
from service.auth import account_sid_of
from service.operations import logic
from service.state import AppState


class OperationsController(Controller):
    path = "/Messages/Operations"
    tags = ["Operations"]  # noqa: RUF012

    @get("/{operationId:str}", operation_id="FetchOperation", summary="Fetch an operation")
    async def fetch(
        self,
        request: Request,
        comms: NamedDependency[AppState],
        operationId: Annotated[str, PathParameter(description="comms_operation_…")],  # noqa: N803
    ) -> OperationRead:
        return await logic.get_operation(
            comms.pool, account_sid=account_sid_of(request), operation_id=operationId
        )
