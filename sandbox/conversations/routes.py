"""/v1/Conversations…: thin handlers over conversations.logic."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath

from sandbox.auth import Account
from sandbox.conversations import logic
from sandbox.conversations.resource import (
    ConversationMessagePage,
    ConversationMessageResource,
    ConversationPage,
    ConversationResource,
    ParticipantPage,
    ParticipantResource,
    ReceiptPage,
    ReceiptResource,
    conversation_url,
    message_url,
    render_conversation,
    render_message,
    render_participant,
    render_receipt,
)
from sandbox.errors import TwilioError
from sandbox.paging import page_of
from sandbox.state import SandboxState


def _field(form: FormMultiDict, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


def _base_url(request: Request[Any, Any, Any], sandbox: SandboxState) -> str:
    return sandbox.settings.base_url or str(request.base_url).rstrip("/")


def _webhook_enabled(request: Request[Any, Any, Any]) -> bool:
    """REST actions trigger Conversations webhooks only with `X-Twilio-Webhook-Enabled: true`."""
    return request.headers.get("x-twilio-webhook-enabled", "").lower() == "true"


def _conversation_fields(form: FormMultiDict) -> logic.ConversationCreate:
    return logic.ConversationCreate(
        friendly_name=_field(form, "FriendlyName"),
        unique_name=_field(form, "UniqueName"),
        attributes=_field(form, "Attributes"),
        messaging_service_sid=_field(form, "MessagingServiceSid"),
        state=_field(form, "State"),
        timers_inactive=_field(form, "Timers.Inactive"),
        timers_closed=_field(form, "Timers.Closed"),
    )


class ConversationsController(Controller):
    path = "/v1/Conversations"

    @post("/", status_code=201)
    async def create_conversation(
        self,
        request: Request[Any, Any, Any],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ConversationResource:
        sandbox.faults.check_create()
        create = _conversation_fields(await request.form())
        conversation = logic.create_conversation(sandbox, account.sid, create)
        return render_conversation(_base_url(request, sandbox), conversation)

    @get("/")
    async def list_conversations(
        self,
        request: Request[Any, Any, Any],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ConversationPage:
        params = request.query_params
        state = params.get("State")
        conversations = [
            c
            for c in reversed(sandbox.conversations.by_account.get(account.sid, []))
            if state is None or c.state == state
        ]
        base = _base_url(request, sandbox)
        chunk, meta = page_of(
            conversations,
            lambda c: c.sid,
            url=f"{base}/v1/Conversations",
            key="conversations",
            page_size=params.get("PageSize"),
            page=params.get("Page"),
            page_token=params.get("PageToken"),
            filters=[("State", state)] if state else (),
        )
        return ConversationPage(
            conversations=[render_conversation(base, c) for c in chunk], meta=meta
        )

    @get("/{conversation_sid:str}")
    async def fetch_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ConversationResource:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        return render_conversation(_base_url(request, sandbox), conversation)

    @post("/{conversation_sid:str}", status_code=200)
    async def update_conversation(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ConversationResource:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        update = _conversation_fields(await request.form())
        logic.update_conversation(sandbox, conversation, update)
        return render_conversation(_base_url(request, sandbox), conversation)

    @delete("/{conversation_sid:str}", status_code=204)
    async def delete_conversation(
        self,
        conversation_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> None:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        logic.delete_conversation(sandbox, conversation)

    # --- participants ---------------------------------------------------------------------

    @post("/{conversation_sid:str}/Participants", status_code=201)
    async def add_participant(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ParticipantResource:
        sandbox.faults.check_create()
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        form = await request.form()
        create = logic.ParticipantCreate(
            identity=_field(form, "Identity"),
            address=_field(form, "MessagingBinding.Address"),
            proxy_address=_field(form, "MessagingBinding.ProxyAddress"),
            projected_address=_field(form, "MessagingBinding.ProjectedAddress"),
            attributes=_field(form, "Attributes"),
            role_sid=_field(form, "RoleSid"),
        )
        participant = logic.add_participant(sandbox, conversation, create)
        return render_participant(_base_url(request, sandbox), participant)

    @get("/{conversation_sid:str}/Participants")
    async def list_participants(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ParticipantPage:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        base = _base_url(request, sandbox)
        params = request.query_params
        chunk, meta = page_of(
            list(conversation.participants.values()),
            lambda p: p.sid,
            url=f"{conversation_url(base, conversation.sid)}/Participants",
            key="participants",
            page_size=params.get("PageSize"),
            page=params.get("Page"),
            page_token=params.get("PageToken"),
        )
        return ParticipantPage(participants=[render_participant(base, p) for p in chunk], meta=meta)

    @get("/{conversation_sid:str}/Participants/{participant_sid:str}")
    async def fetch_participant(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        participant_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ParticipantResource:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        participant = logic.get_participant(conversation, participant_sid)
        return render_participant(_base_url(request, sandbox), participant)

    @delete("/{conversation_sid:str}/Participants/{participant_sid:str}", status_code=204)
    async def remove_participant(
        self,
        conversation_sid: FromPath[str],
        participant_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> None:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        participant = logic.get_participant(conversation, participant_sid)
        logic.remove_participant(sandbox, conversation, participant)

    # --- messages -------------------------------------------------------------------------

    @post("/{conversation_sid:str}/Messages", status_code=201)
    async def add_message(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ConversationMessageResource:
        sandbox.faults.check_create()
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        form = await request.form()
        create = logic.ConversationMessageCreate(
            author=_field(form, "Author"),
            body=_field(form, "Body"),
            attributes=_field(form, "Attributes"),
            media_sid=_field(form, "MediaSid"),
            content_sid=_field(form, "ContentSid"),
            content_variables=_field(form, "ContentVariables"),
        )
        message = logic.add_message(
            sandbox, conversation, create, post_message_added=_webhook_enabled(request)
        )
        return render_message(_base_url(request, sandbox), message)

    @get("/{conversation_sid:str}/Messages")
    async def list_messages(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ConversationMessagePage:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        base = _base_url(request, sandbox)
        params = request.query_params
        order = params.get("Order", "asc")
        if order not in ("asc", "desc"):
            raise TwilioError(20001, "Order must be asc or desc")
        messages = list(conversation.messages)
        if order == "desc":
            messages.reverse()
        chunk, meta = page_of(
            messages,
            lambda m: m.sid,
            url=f"{conversation_url(base, conversation.sid)}/Messages",
            key="messages",
            page_size=params.get("PageSize"),
            page=params.get("Page"),
            page_token=params.get("PageToken"),
            filters=[("Order", order)] if "Order" in params else (),
        )
        return ConversationMessagePage(messages=[render_message(base, m) for m in chunk], meta=meta)

    @get("/{conversation_sid:str}/Messages/{message_sid:str}")
    async def fetch_message(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        message_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ConversationMessageResource:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        return render_message(
            _base_url(request, sandbox), logic.get_message(conversation, message_sid)
        )

    @delete("/{conversation_sid:str}/Messages/{message_sid:str}", status_code=204)
    async def delete_message(
        self,
        conversation_sid: FromPath[str],
        message_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> None:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        conversation.messages.remove(logic.get_message(conversation, message_sid))

    @get("/{conversation_sid:str}/Messages/{message_sid:str}/Receipts")
    async def list_receipts(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        message_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ReceiptPage:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        message = logic.get_message(conversation, message_sid)
        base = _base_url(request, sandbox)
        params = request.query_params
        chunk, meta = page_of(
            message.receipts,
            lambda r: r.sid,
            url=f"{message_url(base, message)}/Receipts",
            key="delivery_receipts",
            page_size=params.get("PageSize"),
            page=params.get("Page"),
            page_token=params.get("PageToken"),
        )
        return ReceiptPage(
            delivery_receipts=[render_receipt(base, message, r) for r in chunk], meta=meta
        )

    @get("/{conversation_sid:str}/Messages/{message_sid:str}/Receipts/{receipt_sid:str}")
    async def fetch_receipt(
        self,
        request: Request[Any, Any, Any],
        conversation_sid: FromPath[str],
        message_sid: FromPath[str],
        receipt_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> ReceiptResource:
        conversation = logic.get_conversation(sandbox, account.sid, conversation_sid)
        message = logic.get_message(conversation, message_sid)
        receipt = next((r for r in message.receipts if r.sid == receipt_sid), None)
        if receipt is None:
            raise TwilioError(20404, f"The requested resource {request.url.path} was not found")
        return render_receipt(_base_url(request, sandbox), message, receipt)
