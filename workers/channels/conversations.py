"""Twilio Conversations v1: one conversation per (sender, recipient), reused across sends.

The first send to a recipient opens a conversation, adds the recipient as an SMS participant
(`MessagingBinding.Address` with the sender as `MessagingBinding.ProxyAddress`) and remembers
it in PostgreSQL. A provider that already holds a conversation for that pair answers 50416
naming it; that conversation is adopted. Delivery comes back as `onDeliveryUpdated` webhooks.

A remembered conversation the provider no longer takes (deleted or forgotten: 404 / 20404;
closed: 50377) is replaced by a new one, once, within the same send. That cannot send twice:
either answer means the message was not created. A lost answer is never taken for one (the
provider may have the message): it stays UNKNOWN. The replacement names the conversation it
replaced in its attributes, so a lookup after a crash can follow it back to where an earlier
attempt's message may be.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import datetime, timedelta
from typing import TypeVar

import asyncpg
import httpx
import msgspec

from schemas.messages import SenderChannel
from service import error_codes
from service.clock import Clock
from service.sending import store
from service.sending.channel import SendRequest, SendResult
from workers.channels.base import failed_call
from workers.channels.http import ProviderClient, basic_authorization, with_request_id
from workers.channels.sms import classify_error

# The message create's refusals that mean the conversation cannot be used any more: it is
# gone (deleted, or forgotten by the provider) or closed for good.
_CONVERSATION_UNUSABLE = (error_codes.NOT_FOUND.code, error_codes.CONVERSATION_CLOSED.code)
_CONVERSATION_SID = re.compile(r"\b(CH[0-9a-f]{32})\b")
# A lookup follows a replacement back to the conversation it replaced only while the
# replacement was opened after the attempt began (before that, the replaced one was already
# closed or gone when the attempt was made), give or take this much between our clock and the
# provider's, and at most this many steps back.
_CLOCK_SKEW = timedelta(minutes=1)
_MAX_STEPS_BACK = 5

_Decoded = TypeVar("_Decoded")


class _Created(msgspec.Struct):
    sid: str


class _ProviderError(msgspec.Struct):
    code: int | None = None
    message: str | None = None


class _Listed(msgspec.Struct):
    sid: str
    attributes: str | None = None


class _MessagesPage(msgspec.Struct):
    messages: list[_Listed]


class _Conversation(msgspec.Struct):
    date_created: datetime
    attributes: str | None = None


class _Lineage(msgspec.Struct):
    """What the service writes in the attributes of a conversation it opens."""

    replaces: str | None = None


class _Refused(Exception):
    def __init__(self, result: SendResult) -> None:
        self.result = result


class ConversationsChannel:
    name: SenderChannel = "CONVERSATIONS"

    def __init__(
        self,
        client: ProviderClient,
        pool: asyncpg.Pool,
        clock: Clock,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
    ) -> None:
        self._client = client
        self._pool = pool
        self._clock = clock
        self._base = base_url.rstrip("/") + "/v1/Conversations"
        self._headers = basic_authorization(account_sid, auth_token)

    async def send(self, request: SendRequest) -> SendResult:
        form: dict[str, str] = {
            "Author": request.from_,
            # Lets a worker that lost the answer find this message again.
            "Attributes": msgspec.json.encode({"attemptId": request.attempt_id.hex}).decode(),
        }
        if request.body is not None:
            form["Body"] = request.body
        if request.content_sid:
            form["ContentSid"] = request.content_sid
            if request.content_variables:
                variables = msgspec.json.encode(request.content_variables).decode()
                form["ContentVariables"] = variables
        proxy, recipient = request.from_, request.to
        try:
            conversation = await self._conversation_for(proxy, recipient)
            messages = f"{self._base}/{conversation}/Messages"
            response = await self._post(messages, form, request.request_id)
            if _conversation_unusable(response):
                # Gone or closed: the message was not created, so posting it in a new
                # conversation cannot make a second copy. Once: a second refusal is classified
                # like any other.
                conversation = await self._conversation_for(proxy, recipient, unusable=conversation)
                messages = f"{self._base}/{conversation}/Messages"
                response = await self._post(messages, form, request.request_id)
            created = _created(response)
        except _Refused as refused:
            return refused.result
        return SendResult(verdict="ACCEPTED", provider_sid=created.sid, status="QUEUED")

    async def find_submitted(
        self, *, attempt_id: uuid.UUID, to: str, from_: str, since: datetime, body: str | None
    ) -> list[str]:
        # The attempt's id is in the message's attributes: a match is this attempt's message.
        # It is in the conversation remembered for the pair, or in one that conversation
        # replaced after the attempt began (the send itself, or another, may have replaced it).
        conversation = await store.find_conversation(self._pool, from_, to)
        for _ in range(_MAX_STEPS_BACK + 1):
            if conversation is None:
                return []
            page = await self._fetch(
                f"{self._base}/{conversation}/Messages",
                _MessagesPage,
                params={"Order": "desc", "PageSize": "100"},
            )
            if page is None:
                return []  # gone, and its messages with it
            found = [
                listed.sid
                for listed in page.messages
                if listed.attributes and attempt_id.hex in listed.attributes
            ]
            if found:
                return found
            opened = await self._fetch(f"{self._base}/{conversation}", _Conversation)
            if opened is None or opened.date_created < since - _CLOCK_SKEW:
                return []
            conversation = _replaced_by(opened)
        return []

    async def _conversation_for(
        self, proxy: str, recipient: str, *, unusable: str | None = None
    ) -> str:
        """The conversation remembered for the pair, else a new one. `unusable` is one the
        provider refused: it is replaced, unless another worker has replaced it already."""
        known = await store.find_conversation(self._pool, proxy, recipient)
        if known is not None and known != unusable:
            return known
        conversation = await self._open(proxy, recipient, replaces=unusable)
        now = self._clock()
        if unusable is None:
            return await store.remember_conversation(
                self._pool, proxy, recipient, conversation, now
            )
        return await store.replace_conversation(
            self._pool, proxy, recipient, unusable, conversation, now
        )

    async def _open(self, proxy: str, recipient: str, *, replaces: str | None) -> str:
        """A conversation with the recipient bound to the proxy address: a new one, or the one
        the provider already binds them in."""
        form = {"FriendlyName": f"{proxy} → {recipient}"}
        if replaces is not None:
            form["Attributes"] = msgspec.json.encode(_Lineage(replaces=replaces)).decode()
        opened = await self._create(self._base, form)
        conversation = opened.sid
        participant = {
            "MessagingBinding.Address": recipient,
            "MessagingBinding.ProxyAddress": proxy,
        }
        response = await self._post(f"{self._base}/{conversation}/Participants", participant)
        if response.status_code == 409:
            error = _decode_error(response)
            existing = _CONVERSATION_SID.search(error.message or "")
            if error.code == error_codes.BINDING_EXISTS.code and existing:
                # The provider already has a conversation for this pair: use that one, and
                # drop the empty one just opened.
                with contextlib.suppress(httpx.TransportError):  # tidying up only
                    await self._client.delete(f"{self._base}/{conversation}", headers=self._headers)
                conversation = existing.group(1)
            else:
                raise _Refused(classify_error(response))
        elif response.status_code >= 300:
            raise _Refused(classify_error(response))
        return conversation

    async def _fetch(
        self, url: str, shape: type[_Decoded], params: dict[str, str] | None = None
    ) -> _Decoded | None:
        """GET a resource; None when the provider does not have it (404)."""
        response = await self._client.get(url, params=params, headers=self._headers)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return msgspec.json.decode(response.content, type=shape)

    async def _post(
        self, url: str, form: dict[str, str], request_id: str | None = None
    ) -> httpx.Response:
        headers = with_request_id(self._headers, request_id)
        try:
            return await self._client.post_form(httpx.URL(url), form, headers)
        except httpx.TransportError as exc:
            raise _Refused(failed_call(exc)) from exc

    async def _create(self, url: str, form: dict[str, str]) -> _Created:
        return _created(await self._post(url, form))


def _created(response: httpx.Response) -> _Created:
    if response.status_code >= 300:
        raise _Refused(classify_error(response))
    return msgspec.json.decode(response.content, type=_Created)


def _conversation_unusable(response: httpx.Response) -> bool:
    """Whether a message create was refused because its conversation is gone or closed."""
    if response.status_code < 400:
        return False
    return _decode_error(response).code in _CONVERSATION_UNUSABLE


def _replaced_by(conversation: _Conversation) -> str | None:
    """The conversation this one replaced, as its attributes name it (None for any other)."""
    try:
        return msgspec.json.decode(conversation.attributes or "{}", type=_Lineage).replaces
    except msgspec.DecodeError:  # attributes someone else wrote: not one of ours
        return None


def _decode_error(response: httpx.Response) -> _ProviderError:
    try:
        return msgspec.json.decode(response.content, type=_ProviderError)
    except msgspec.DecodeError:
        return _ProviderError()
