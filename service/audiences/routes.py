"""HTTP routes of the Audiences resource."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter

from schemas.audiences import (
    AudienceCreate,
    AudienceMembersChange,
    AudienceMembersChanged,
    AudienceMembersPage,
    AudienceRead,
    AudiencesPage,
)
from schemas.common import PAGE_SIZE_DEFAULT
from service import ids
from service.audiences import logic
from service.auth import account_sid_of
from service.openapi import examples
from service.query_params import PageSizeParam, PageTokenParam
from service.state import AppState

AudienceIdPath = Annotated[
    str,
    PathParameter(
        description="The audience's id (comms_audience_…).",
        schema_extra={"pattern": ids.pattern(ids.AUDIENCE), "examples": [examples.AUDIENCE_ID]},
    ),
]


class AudiencesController(Controller):
    path = "/Audiences"
    tags = ["Audiences"]

    @post(
        "/",
        status_code=201,
        operation_id="CreateAudience",
        summary="Create an audience",
        description="A static list of profiles (no `filter`: add them with "
        "`POST /v1/Audiences/{audienceId}/Members`), or a filter on profile attributes, "
        "evaluated each time a send names the audience. A send's `to` names it as "
        '`{"audienceId": …}`.',
        response_description="Created. `Location` is its URL.",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: AudienceCreate,
        comms: NamedDependency[AppState],
    ) -> Response[AudienceRead]:
        audience = await logic.create_audience(
            comms.pool, account_sid=account_sid_of(request), request=data, now=comms.clock()
        )
        return Response(
            audience,
            status_code=201,
            headers={"Location": f"{comms.base_url}/v1/Audiences/{audience.id}"},
        )

    @get(
        "/",
        operation_id="ListAudiences",
        summary="List audiences, newest first",
        description="This account's audiences, newest first (`size` is given by Fetch only).",
        response_description="A page of audiences.",
    )
    async def list_audiences(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> AudiencesPage:
        return await logic.list_audiences(
            comms.pool,
            account_sid=account_sid_of(request),
            page_size=page_size,
            page_token=page_token,
        )

    @get(
        "/{audienceId:str}",
        operation_id="FetchAudience",
        summary="Fetch an audience",
        description="One of this account's audiences with its `size`: a static list's member "
        "count, or how many profiles its filter matches now.",
        response_description="The audience.",
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        audienceId: AudienceIdPath,
    ) -> AudienceRead:
        return await logic.get_audience(
            comms.pool, account_sid=account_sid_of(request), audience_id=audienceId
        )

    @delete(
        "/{audienceId:str}",
        operation_id="DeleteAudience",
        summary="Remove an audience",
        description="Its memberships go with it (the profiles stay). A send still expanding "
        "it expands its other recipients.",
        response_description="Removed.",
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        audienceId: AudienceIdPath,
    ) -> None:
        await logic.delete_audience(
            comms.pool, account_sid=account_sid_of(request), audience_id=audienceId
        )

    @post(
        "/{audienceId:str}/Members",
        status_code=200,
        operation_id="AddAudienceMembers",
        summary="Add profiles to a static audience",
        description="Up to 10,000 profile ids a call. All or nothing: an id that is no "
        "profile of this account fails the call with 400 (90051), one entry naming each such "
        "id, and nothing is added. Profiles already members stay (not counted). A filter "
        "audience answers 409 (90053).",
        response_description="How many were added, and the audience's size.",
    )
    async def add_members(
        self,
        request: Request[Any, Any, Any],
        data: AudienceMembersChange,
        comms: NamedDependency[AppState],
        audienceId: AudienceIdPath,
    ) -> AudienceMembersChanged:
        return await logic.change_members(
            comms.pool,
            account_sid=account_sid_of(request),
            audience_id=audienceId,
            request=data,
            add=True,
            now=comms.clock(),
        )

    @delete(
        "/{audienceId:str}/Members",
        status_code=200,
        operation_id="RemoveAudienceMembers",
        summary="Remove profiles from a static audience",
        description="Up to 10,000 profile ids a call; ids that are not members (another "
        "account's among them) change nothing and are not counted. A filter audience answers "
        "409 (90053).",
        response_description="How many were removed, and the audience's size.",
    )
    async def remove_members(
        self,
        request: Request[Any, Any, Any],
        data: AudienceMembersChange,
        comms: NamedDependency[AppState],
        audienceId: AudienceIdPath,
    ) -> AudienceMembersChanged:
        return await logic.change_members(
            comms.pool,
            account_sid=account_sid_of(request),
            audience_id=audienceId,
            request=data,
            add=False,
            now=comms.clock(),
        )

    @get(
        "/{audienceId:str}/Members",
        operation_id="ListAudienceMembers",
        summary="List an audience's profiles",
        description="A static audience's members, or the profiles a filter audience matches "
        "now, in profile id order (oldest first).",
        response_description="A page of profiles.",
    )
    async def list_members(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        audienceId: AudienceIdPath,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> AudienceMembersPage:
        return await logic.list_members(
            comms.pool,
            account_sid=account_sid_of(request),
            audience_id=audienceId,
            page_size=page_size,
            page_token=page_token,
        )
