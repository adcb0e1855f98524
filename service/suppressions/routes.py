"""HTTP routes of opt-out: the Suppressions resource (ext) and the provider's inbound webhook."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from schemas.common import PAGE_SIZE_DEFAULT
from schemas.suppressions import SuppressionCreate, SuppressionRead, SuppressionsPage
from service.auth import account_sid_of
from service.callbacks.routes import signed_form
from service.query_params import PageSizeParam, PageTokenParam
from service.state import AppState
from service.suppressions import logic

log = structlog.get_logger(__name__)

# What Twilio expects back from an incoming-message webhook when no reply is to be sent.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

AddressPath = Annotated[
    str,
    PathParameter(
        description="The suppressed E.164 number (URL-encode the `+` as %2B if your client "
        "turns `+` into a space).",
        schema_extra={"examples": ["+15558675310"]},
    ),
]
AddressFilter = Annotated[
    str | None,
    QueryParameter(
        name="address",
        description="Only this recipient (E.164; a `whatsapp:` prefix is ignored).",
        schema_extra={"examples": ["+15558675310"]},
    ),
]


class SuppressionsController(Controller):
    path = "/Suppressions"
    tags = ["Suppressions"]

    @post(
        "/",
        status_code=201,
        operation_id="CreateSuppression",
        summary="Suppress a recipient",
        description="Sends from this account to the address fail with 21610 without a "
        "provider call, and its messages not yet handed to a provider are canceled, as an "
        "inbound STOP does. Suppressing an address already listed answers the existing entry.",
        response_description="Suppressed (or already). `Location` is its URL.",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: SuppressionCreate,
        comms: NamedDependency[AppState],
    ) -> Response[SuppressionRead]:
        created = await logic.create_suppression(
            comms.pool, account_sid=account_sid_of(request), request=data, now=comms.clock()
        )
        return Response(
            created,
            status_code=201,
            headers={"Location": f"{comms.base_url}/v1/Suppressions/{created.address}"},
        )

    @get(
        "/",
        operation_id="ListSuppressions",
        summary="List suppressed recipients, newest first",
        description="This account's suppressed recipients, newest first, or one address's.",
        response_description="A page of suppressions.",
    )
    async def list_suppressions(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        address: AddressFilter = None,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> SuppressionsPage:
        return await logic.list_suppressions(
            comms.pool,
            account_sid=account_sid_of(request),
            address=address,
            page_size=page_size,
            page_token=page_token,
        )

    @delete(
        "/{address:str}",
        operation_id="DeleteSuppression",
        summary="Lift a suppression",
        description="Sends to the address go out again (as after an inbound START).",
        response_description="Lifted.",
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        address: AddressPath,
    ) -> None:
        await logic.delete_suppression(
            comms.pool, account_sid=account_sid_of(request), address=address
        )


class InboundMessagesController(Controller):
    """Twilio's incoming-message webhook: no Basic auth; the X-Twilio-Signature is checked."""

    path = "/callbacks/twilio/messages/inbound"
    include_in_schema = False

    @post("/", status_code=200, media_type="text/xml")
    async def inbound(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Response[str]:
        """STOP / START keywords update the suppression lists; anything else is ignored."""
        form = await signed_form(request, comms)
        applied = await logic.apply_inbound(comms.pool, form, comms.clock())
        if applied is not None:
            log.info(
                "inbound keyword applied",
                keyword=applied.keyword,
                accounts=len(applied.account_sids),
                canceled_in=len(applied.canceled_in),
            )
        return Response(EMPTY_TWIML, status_code=200, media_type="text/xml")
