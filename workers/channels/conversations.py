"""Twilio Conversations v1: one conversation per (sender, recipient), reused across sends.

The first send to a recipient opens a conversation, adds the recipient as an SMS participant
(`MessagingBinding.Address` with the sender as `MessagingBinding.ProxyAddress`) and remembers
it in PostgreSQL. A provider that already holds a conversation for that pair answers 50416
naming it; that conversation is adopted. Delivery comes back as `onDeliveryUpdated` webhooks.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import datetime

import asyncpg
import httpx
import msgspec

from service.clock import Clock
from service.dispatch import store
from workers.channels.base import SendRequest, SendResult, failed_call
from workers.channels.http import ProviderClient, basic_authorization
from workers.channels.sms import classify_error

CODE_BINDING_EXISTS = 50416
_CONVERSATION_SID = re.compile(r"\b(CH[0-9a-f]{32})\b")


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


class _Refused(Exception):
    def __init__(self, result: SendResult) -> None:
        self.result = result


class ConversationsChannel:
    name = "CONVERSATIONS"

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
        try:
            conversation = await self._conversation_for(request.from_, request.to)
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
            created = await self._create(f"{self._base}/{conversation}/Messages", form)
        except _Refused as refused:
            return refused.result
        return SendResult(verdict="ACCEPTED", provider_sid=created.sid, status="QUEUED")

    async def find_submitted(
        self, *, attempt_id: uuid.UUID, to: str, from_: str, since: datetime, body: str | None
    ) -> list[str]:
        conversation = await store.find_conversation(self._pool, from_, to)
        if conversation is None:
            return []
        response = await self._client.get(
            f"{self._base}/{conversation}/Messages",
            params={"Order": "desc", "PageSize": "100"},
            headers=self._headers,
        )
        response.raise_for_status()
        page = msgspec.json.decode(response.content, type=_MessagesPage)
        # The attempt's id is in the message's attributes: a match is this attempt's message.
        return [
            listed.sid
            for listed in page.messages
            if listed.attributes and attempt_id.hex in listed.attributes
        ]

    async def _conversation_for(self, proxy: str, recipient: str) -> str:
        known = await store.find_conversation(self._pool, proxy, recipient)
        if known is not None:
            return known
        opened = await self._create(self._base, {"FriendlyName": f"{proxy} → {recipient}"})
        conversation = opened.sid
        participant = {
            "MessagingBinding.Address": recipient,
            "MessagingBinding.ProxyAddress": proxy,
        }
        response = await self._post(f"{self._base}/{conversation}/Participants", participant)
        if response.status_code == 409:
            error = _decode_error(response)
            existing = _CONVERSATION_SID.search(error.message or "")
            if error.code == CODE_BINDING_EXISTS and existing:
                # The provider already has a conversation for this pair: use that one, and
                # drop the empty one just opened.
                with contextlib.suppress(httpx.TransportError):  # tidying up only
                    await self._client.delete(f"{self._base}/{conversation}", headers=self._headers)
                conversation = existing.group(1)
            else:
                raise _Refused(classify_error(response))
        elif response.status_code >= 300:
            raise _Refused(classify_error(response))
        return await store.remember_conversation(
            self._pool, proxy, recipient, conversation, self._clock()
        )

    async def _post(self, url: str, form: dict[str, str]) -> httpx.Response:
        try:
            return await self._client.post_form(httpx.URL(url), form, self._headers)
        except httpx.TransportError as exc:
            raise _Refused(failed_call(exc)) from exc

    async def _create(self, url: str, form: dict[str, str]) -> _Created:
        response = await self._post(url, form)
        if response.status_code >= 300:
            raise _Refused(classify_error(response))
        return msgspec.json.decode(response.content, type=_Created)


def _decode_error(response: httpx.Response) -> _ProviderError:
    try:
        return msgspec.json.decode(response.content, type=_ProviderError)
    except msgspec.DecodeError:
        return _ProviderError()
