"""Provider callbacks: no Basic auth; the X-Twilio-Signature proves the sender."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_204_NO_CONTENT

from service import error_codes, queue
from service.callbacks import logic, store
from service.callbacks.signature import is_valid_signature
from service.callbacks.store import Applied
from service.errors import ApiError
from service.state import AppState
from service.tracing import work_span


class BadSignature(ApiError):
    """The X-Twilio-Signature header does not match the request."""

    error = error_codes.BAD_SIGNATURE


async def signed_form(
    request: Request[Any, Any, Any], comms: NamedDependency[AppState]
) -> dict[str, str]:
    """The form parameters, once the signature over our public URL has been checked."""
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    url = comms.settings.callbacks_url + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("x-twilio-signature")
    if not is_valid_signature(comms.settings.provider_auth_token, url, params, signature):
        raise BadSignature()
    return dict(params)


class CallbacksController(Controller):
    path = "/callbacks/twilio"
    include_in_schema = False

    @post("/messages/status", status_code=HTTP_204_NO_CONTENT)
    async def message_status(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Response[None]:
        form = await signed_form(request, comms)
        receipt = logic.status_callback_receipt(
            form, request.query_params.get("attemptId"), comms.clock()
        )
        if receipt is not None:
            await _dispatch_fallback(comms, await comms.receipts.apply(receipt))
        return Response(None, status_code=HTTP_204_NO_CONTENT)

    @post("/conversations", status_code=HTTP_204_NO_CONTENT)
    async def conversations(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Response[None]:
        """Conversations webhooks; delivery receipts (`onDeliveryUpdated`) move attempts."""
        form = await signed_form(request, comms)
        receipt = logic.conversations_receipt(form, comms.clock())
        if receipt is None:
            return Response(None, status_code=HTTP_204_NO_CONTENT)
        # Unlike a status callback (whose URL carries the provider call's context), the
        # webhook knows nothing of the send: the receipt is applied in a span of the send's
        # own trace, found by the provider sid, linked to this request's span.
        traceparent = None
        if comms.tracing.enabled and receipt.provider_sid is not None:
            traceparent = await store.trace_of_provider_sid(comms.pool, receipt.provider_sid)
        with work_span(
            comms.tracing.tracer,
            "conversations delivery receipt",
            traceparent,
            **{"comms.provider_sid": receipt.provider_sid or "", "comms.status": receipt.status},
        ):
            applied = await comms.receipts.apply(receipt)
        await _dispatch_fallback(comms, applied)
        return Response(None, status_code=HTTP_204_NO_CONTENT)


async def _dispatch_fallback(comms: AppState, applied: Applied | None) -> None:
    """A message moved to its next channel is due now: start sending it without waiting."""
    if applied is None or not applied.fallback:
        return
    await queue.hint_dispatch(comms.redis, applied.operation_id, comms.redis_outages)
