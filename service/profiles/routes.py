"""HTTP routes of the Profiles resource and its bulk imports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIMediaType, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.openapi.spec.operation import Operation
from litestar.params import PathParameter, QueryParameter
from redis.exceptions import RedisError

from schemas.common import PAGE_SIZE_DEFAULT
from schemas.jobs import IMPORT_PROFILES_JOB, ImportProfiles
from schemas.profiles import (
    MAX_EXTERNAL_ID,
    ProfileCreate,
    ProfileImportRead,
    ProfileRead,
    ProfilesPage,
    ProfileUpdate,
)
from service import ids, request_ids
from service.auth import account_sid_of
from service.errors import ApiError, ValidationFailed
from service.openapi import examples
from service.profiles import imports, logic
from service.query_params import PageSizeParam, PageTokenParam
from service.queue import HINT_TIMEOUT_S
from service.state import AppState
from service.text_guard import BodyTimeout, IncompleteBody

PROFILE_EXAMPLE = "comms_profile_01m8h0jzqsechs3yv6kh2qxj5t"
IMPORT_EXAMPLE = "comms_profileimport_01m8h0jzqsechs3yv6kh2qxj5v"

ProfileIdPath = Annotated[
    str,
    PathParameter(
        description="The profile's id (comms_profile_…).",
        schema_extra={"pattern": ids.pattern(ids.PROFILE), "examples": [PROFILE_EXAMPLE]},
    ),
]
ExternalIdPath = Annotated[
    str,
    PathParameter(
        description="Your own key for the profile (1..256 characters, URL-encoded).",
        schema_extra={"examples": ["crm-42"], "maxLength": MAX_EXTERNAL_ID},
    ),
]
ImportIdPath = Annotated[
    str,
    PathParameter(
        description="The import's id (comms_profileimport_…).",
        schema_extra={"pattern": ids.pattern(ids.PROFILE_IMPORT), "examples": [IMPORT_EXAMPLE]},
    ),
]
ExternalIdFilter = Annotated[
    str | None,
    QueryParameter(
        name="externalId",
        description="Only the profile with this external id.",
        schema_extra={"examples": ["crm-42"]},
    ),
]
AddressFilter = Annotated[
    str | None,
    QueryParameter(
        name="address",
        description="Only profiles with this address, on any channel (E.164; a `whatsapp:` "
        "prefix is ignored).",
        schema_extra={"examples": ["+15558675310"]},
    ),
]

_NDJSON_EXAMPLE = (
    '{"externalId": "crm-42", "addresses": [{"address": "+15558675310", "channel": "SMS"}], '
    '"attributes": {"firstName": "Ada", "age": 36}, "timeZone": "Europe/Paris"}\n'
    '{"addresses": [{"address": "+15558675311", "channel": "WHATSAPP"}]}\n'
)
_CSV_EXAMPLE = (
    "externalId,sms,whatsapp,timeZone,attributes.firstName,attributes.age:number,"
    "attributes.vip:boolean\n"
    "crm-42,+15558675310,+15558675310,Europe/Paris,Ada,36,true\n"
    ",+15558675311,,,Grace,,\n"
)


@dataclass
class ImportOperation(Operation):
    """The import's body: read as a stream by the handler, so Litestar cannot infer it."""

    def __post_init__(self) -> None:
        # Text, as bytes to generated clients (format binary: a file or a stream to upload).
        text = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        self.request_body = RequestBody(
            required=True,
            description="Up to 1,000,000 profiles: NDJSON (one profile per line, as POST "
            "/v1/Profiles takes it) or CSV (a header row, then a profile per row; columns "
            "`externalId`, `timeZone`, `sms`, `whatsapp`, `conversations` and "
            "`attributes.<name>`, `attributes.<name>:number`, `attributes.<name>:boolean`). "
            "At most 1 GiB, and 64 KiB a row.",
            content={
                "application/x-ndjson": OpenAPIMediaType(
                    schema=text, examples={"example": _example(_NDJSON_EXAMPLE)}
                ),
                "text/csv": OpenAPIMediaType(
                    schema=text, examples={"example": _example(_CSV_EXAMPLE)}
                ),
            },
        )


def _example(value: str) -> Example:
    return Example(value=value)


async def _streamed(request: Request[Any, Any, Any]) -> None:
    """The import route's before_request: its body is a stream, read by the handler alone
    (rows holding U+0000 are refused one by one by the worker)."""


async def _chunks(request: Request[Any, Any, Any], timeout_s: float) -> AsyncIterator[bytes]:
    """The body's chunks, each of which must arrive within timeout_s (408), or a 400 when the
    client goes away."""
    stream = request.stream()
    while True:
        try:
            async with asyncio.timeout(timeout_s):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise BodyTimeout(context="$") from exc
        except InternalServerException as exc:
            raise IncompleteBody(context="$") from exc
        yield chunk


async def _drain(chunks: AsyncIterator[bytes], limit: int) -> None:
    """Read and drop the rest of a refused body, `limit` bytes at most (then the connection
    may be reset: the answer stands)."""
    size = 0
    with contextlib.suppress(ApiError):
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                return


async def _hint(comms: AppState, import_id: str) -> None:
    """Enqueue the import job if Redis takes it at once; workers find the import anyway."""
    job = ImportProfiles(import_id=import_id, request_id=request_ids.current())
    try:
        async with asyncio.timeout(HINT_TIMEOUT_S):
            await comms.redis.enqueue_job(
                IMPORT_PROFILES_JOB, msgspec.to_builtins(job), _job_id=f"import:{import_id}"
            )
    except (RedisError, OSError, TimeoutError) as exc:
        comms.redis_outages.failed("profile import job not enqueued", exc)
    else:
        comms.redis_outages.answered()


class ProfilesController(Controller):
    path = "/Profiles"
    tags = ["Profiles"]

    @post(
        "/",
        status_code=201,
        operation_id="CreateProfile",
        summary="Create a profile",
        description="Someone this account sends to: addresses in priority order (a send to "
        "the profile tries them in order), attributes for templates and audiences, a time "
        "zone for recipient-local schedules, and your own key (`externalId`, unique in the "
        "account: 409 when taken).",
        response_description="Created. `Location` is its URL.",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: ProfileCreate,
        comms: NamedDependency[AppState],
    ) -> Response[ProfileRead]:
        created = await logic.create_profile(
            comms.pool, account_sid=account_sid_of(request), request=data, now=comms.clock()
        )
        return Response(
            created,
            status_code=201,
            headers={"Location": f"{comms.base_url}/v1/Profiles/{created.id}"},
        )

    @get(
        "/",
        operation_id="ListProfiles",
        summary="List profiles, newest first",
        description="This account's profiles, newest first; or those with an external id or "
        "an address.",
        response_description="A page of profiles.",
    )
    async def list_profiles(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        external_id: ExternalIdFilter = None,
        address: AddressFilter = None,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> ProfilesPage:
        return await logic.list_profiles(
            comms.pool,
            account_sid=account_sid_of(request),
            external_id=external_id,
            address=address,
            page_size=page_size,
            page_token=page_token,
        )

    @get(
        "/{profileId:str}",
        operation_id="FetchProfile",
        summary="Fetch a profile",
        description="One of this account's profiles.",
        response_description="The profile.",
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        profileId: ProfileIdPath,
    ) -> ProfileRead:
        return await logic.get_profile(
            comms.pool, account_sid=account_sid_of(request), profile_id=profileId
        )

    @patch(
        "/{profileId:str}",
        operation_id="UpdateProfile",
        summary="Update a profile",
        description="Fields left out stay; `addresses` replaces the list; `attributes` is "
        "merged key by key (`null` removes a key); `null` clears `externalId` or `timeZone`.",
        response_description="The profile as it is now.",
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        data: ProfileUpdate,
        comms: NamedDependency[AppState],
        profileId: ProfileIdPath,
    ) -> ProfileRead:
        return await logic.update_profile(
            comms.pool,
            account_sid=account_sid_of(request),
            profile_id=profileId,
            request=data,
            now=comms.clock(),
        )

    @delete(
        "/{profileId:str}",
        operation_id="DeleteProfile",
        summary="Delete a profile",
        description="The profile and its audience memberships are removed.",
        response_description="Deleted.",
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        profileId: ProfileIdPath,
    ) -> None:
        await logic.delete_profile(
            comms.pool, account_sid=account_sid_of(request), profile_id=profileId
        )

    @put(
        "/ExternalId/{externalId:str}",
        status_code=200,
        operation_id="UpsertProfile",
        summary="Create or update the profile with an external id",
        description="Creates the profile with this external id (201), or writes over the "
        "existing one as PATCH does (200): fields left out stay, `attributes` is merged key "
        "by key. `externalId` in the body may be left out; given, it must equal the path's.",
        response_description="Updated. `Location` is its URL.",
        responses={
            201: ResponseSpec(
                data_container=ProfileRead,
                generate_examples=False,
                description="Created. `Location` is its URL.",
                examples=[Example(id="example", value=msgspec.to_builtins(examples.PROFILE))],
            )
        },
    )
    async def upsert(
        self,
        request: Request[Any, Any, Any],
        data: ProfileCreate,
        comms: NamedDependency[AppState],
        externalId: ExternalIdPath,
    ) -> Response[ProfileRead]:
        profile, created = await logic.upsert_profile(
            comms.pool,
            account_sid=account_sid_of(request),
            external_id=externalId,
            request=data,
            now=comms.clock(),
        )
        return Response(
            profile,
            status_code=201 if created else 200,
            headers={"Location": f"{comms.base_url}/v1/Profiles/{profile.id}"},
        )

    @post(
        "/Import",
        status_code=202,
        operation_id="ImportProfiles",
        summary="Import profiles in bulk (NDJSON or CSV)",
        description="Up to 1,000,000 profiles, streamed: the rows are stored as they arrive "
        "and loaded by workers. The answer is the import (PROCESSING); follow it with `GET "
        "/v1/Profiles/Imports/{importId}`. Each row is checked as POST /v1/Profiles checks a "
        "profile: a bad row is counted and reported (the first 100, with their line numbers) "
        "and the others are loaded. A row with an external id writes over the profile with "
        "it as PUT /v1/Profiles/ExternalId does; one without creates a profile.",
        response_description="Accepted. `Location` is the import's URL.",
        request_max_body_size=imports.MAX_IMPORT_BYTES,
        before_request=_streamed,
        operation_class=ImportOperation,
    )
    async def import_profiles(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Response[ProfileImportRead]:
        chunks = _chunks(request, comms.settings.body_read_timeout_s)
        try:
            accepted = await imports.accept(
                comms.pool,
                account_sid=account_sid_of(request),
                content_type=request.content_type[0],
                chunks=chunks,
                now=comms.clock(),
            )
        except (ValidationFailed, imports.UnsupportedMediaType, imports.TooManyRows):
            # Refused before the whole body was read (another media type, a bad CSV header,
            # too many rows): read the rest, up to the usual body limit, before answering, as
            # a connection closed on a client still sending is reset, not answered.
            await _drain(chunks, comms.settings.max_body_bytes)
            raise
        await _hint(comms, accepted.id)
        return Response(
            accepted,
            status_code=202,
            headers={"Location": f"{comms.base_url}/v1/Profiles/Imports/{accepted.id}"},
        )

    @get(
        "/Imports/{importId:str}",
        operation_id="FetchProfileImport",
        summary="Fetch a profile import",
        description="An import's progress: rows read, loaded and refused, with the first 100 "
        "refused rows and why.",
        response_description="The import.",
    )
    async def fetch_import(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        importId: ImportIdPath,
    ) -> ProfileImportRead:
        return await imports.get_import(
            comms.pool, account_sid=account_sid_of(request), import_id=importId
        )
