"""HTTP routes of the Webhooks resource (ext): endpoints, delivery log, redelivery; and the
same log and redelivery for an operation's statusCallback (ext)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import PathParameter

from schemas.common import PAGE_SIZE_DEFAULT
from schemas.webhooks import (
    DeliveriesPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhooksPage,
)
from service import ids
from service.auth import account_sid_of
from service.openapi import examples
from service.operations.routes import OperationIdPath
from service.query_params import PageSizeParam, PageTokenParam
from service.state import AppState
from service.webhooks import logic

WebhookIdPath = Annotated[
    str,
    PathParameter(
        description="The endpoint's id (comms_webhook_…).",
        schema_extra={"pattern": ids.pattern(ids.WEBHOOK), "examples": [examples.WEBHOOK_ID]},
    ),
]
DeliveryIdPath = Annotated[
    str,
    PathParameter(
        description="The delivery's id (comms_delivery_…, its `webhook-id` header).",
        schema_extra={"pattern": ids.pattern(ids.DELIVERY), "examples": [examples.DELIVERY_ID]},
    ),
]


async def _deliveries(
    request: Request[Any, Any, Any],
    comms: AppState,
    owner: logic.Owner,
    page_size: int,
    page_token: str | None,
) -> DeliveriesPage:
    return await logic.list_deliveries(
        comms.pool,
        account_sid=account_sid_of(request),
        owner=owner,
        page_size=page_size,
        page_token=page_token,
    )


async def _redeliver(
    request: Request[Any, Any, Any], comms: AppState, owner: logic.Owner, delivery_id: str
) -> Response[DeliveryRead]:
    redelivered = await logic.redeliver(
        comms.pool,
        account_sid=account_sid_of(request),
        owner=owner,
        delivery_id=delivery_id,
        retry_window=timedelta(hours=comms.settings.webhook_retry_hours),
        now=comms.clock(),
    )
    return Response(redelivered, status_code=202)


REDELIVERY_DESCRIPTION = (
    "The delivery is due at once, with the same body and `webhook-id`, and a new 24-hour "
    "retry window; one that succeeded already is sent once more."
)


class WebhooksController(Controller):
    path = "/Webhooks"
    tags = ["Webhooks"]

    @post(
        "/",
        status_code=201,
        operation_id="CreateWebhook",
        summary="Register a webhook endpoint (ext)",
        description="Every event of the chosen types, of every operation of this account, is "
        "POSTed to the URL as a CloudEvents 1.0 JSON body, signed the Standard Webhooks way "
        "(`webhook-id`, `webhook-timestamp`, `webhook-signature`), and tried again with "
        "exponential backoff for 24 hours until it answers 2xx. The signing secret is in this "
        "answer only.",
        response_description="Registered; the signing secret is shown this once. `Location` is "
        "its URL.",
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: WebhookCreate,
        comms: NamedDependency[AppState],
    ) -> Response[WebhookCreated]:
        created = await logic.create_endpoint(
            comms.pool,
            account_sid=account_sid_of(request),
            request=data,
            allow_loopback=comms.settings.webhook_loopback_allowed,
            now=comms.clock(),
        )
        return Response(
            created,
            status_code=201,
            headers={"Location": f"{comms.base_url}/v1/Webhooks/{created.id}"},
        )

    @get(
        "/",
        operation_id="ListWebhooks",
        summary="List webhook endpoints, newest first (ext)",
        description="This account's webhook endpoints, newest first (without their secrets).",
        response_description="A page of endpoints.",
    )
    async def list_webhooks(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> WebhooksPage:
        return await logic.list_endpoints(
            comms.pool,
            account_sid=account_sid_of(request),
            page_size=page_size,
            page_token=page_token,
        )

    @get(
        "/{webhookId:str}",
        operation_id="FetchWebhook",
        summary="Fetch a webhook endpoint (ext)",
        description="One of this account's webhook endpoints (without its secret).",
        response_description="The endpoint.",
    )
    async def fetch(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        webhookId: WebhookIdPath,
    ) -> WebhookRead:
        return await logic.get_endpoint(
            comms.pool, account_sid=account_sid_of(request), webhook_id=webhookId
        )

    @delete(
        "/{webhookId:str}",
        operation_id="DeleteWebhook",
        summary="Delete a webhook endpoint and its delivery log (ext)",
        description="No further deliveries are made to it; its delivery log goes with it.",
        response_description="Deleted.",
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        webhookId: WebhookIdPath,
    ) -> None:
        await logic.delete_endpoint(
            comms.pool, account_sid=account_sid_of(request), webhook_id=webhookId
        )

    @get(
        "/{webhookId:str}/Deliveries",
        operation_id="ListWebhookDeliveries",
        summary="List an endpoint's deliveries with every try, newest first (ext)",
        description="Each event sent to the endpoint, newest first, with every try: what the "
        "endpoint answered or why there was no answer.",
        response_description="A page of deliveries.",
    )
    async def deliveries(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        webhookId: WebhookIdPath,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> DeliveriesPage:
        owner = logic.Owner(webhook_id=webhookId)
        return await _deliveries(request, comms, owner, page_size, page_token)

    @post(
        "/{webhookId:str}/Deliveries/{deliveryId:str}/Redeliver",
        status_code=202,
        operation_id="RedeliverWebhookDelivery",
        summary="Send a delivery again (ext)",
        description=REDELIVERY_DESCRIPTION,
        response_description="Due again at once.",
    )
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        webhookId: WebhookIdPath,
        deliveryId: DeliveryIdPath,
    ) -> Response[DeliveryRead]:
        return await _redeliver(request, comms, logic.Owner(webhook_id=webhookId), deliveryId)


class StatusCallbackDeliveriesController(Controller):
    """The delivery log of an operation's statusCallback, like an endpoint's."""

    path = "/Messages/Operations"
    tags = ["Webhooks"]

    @get(
        "/{operationId:str}/Deliveries",
        operation_id="ListStatusCallbackDeliveries",
        summary="List an operation's statusCallback deliveries with every try, newest first (ext)",
        description="Each event of the operation sent to its statusCallback, newest first, "
        "with every try.",
        response_description="A page of deliveries.",
    )
    async def deliveries(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operationId: OperationIdPath,
        page_size: PageSizeParam = PAGE_SIZE_DEFAULT,
        page_token: PageTokenParam = None,
    ) -> DeliveriesPage:
        owner = logic.Owner(operation_id=operationId)
        return await _deliveries(request, comms, owner, page_size, page_token)

    @post(
        "/{operationId:str}/Deliveries/{deliveryId:str}/Redeliver",
        status_code=202,
        operation_id="RedeliverStatusCallbackDelivery",
        summary="Send a statusCallback delivery again (ext)",
        description=REDELIVERY_DESCRIPTION,
        response_description="Due again at once.",
    )
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operationId: OperationIdPath,
        deliveryId: DeliveryIdPath,
    ) -> Response[DeliveryRead]:
        owner = logic.Owner(operation_id=operationId)
        return await _redeliver(request, comms, owner, deliveryId)
