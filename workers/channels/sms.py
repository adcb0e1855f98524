"""SMS and MMS through Twilio's Messages API (2010-04-01), or the sandbox imitating it.

A sender that is a Messaging Service SID (`MG…`) goes as `MessagingServiceSid` instead of
`From`: the provider picks the number from the service's pool."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import msgspec

from schemas.messages import SenderChannel
from service.senders.kinds import is_messaging_service
from service.sending.channel import SendRequest, SendResult
from service.sending.statuses import PROVIDER_TO_ATTEMPT
from workers.channels.base import failed_call
from workers.channels.http import ProviderClient, basic_authorization, with_request_id

_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class _TwilioError(msgspec.Struct):
    code: int | None = None
    message: str | None = None


class _TwilioMessage(msgspec.Struct):
    sid: str
    status: str
    error_code: int | None = None
    error_message: str | None = None


class _TwilioPage(msgspec.Struct):
    messages: list[_TwilioListed]
    next_page_uri: str | None = None


class _TwilioListed(msgspec.Struct):
    sid: str
    body: str | None = None
    date_created: str | None = None
    messaging_service_sid: str | None = None


class MessagesApiChannel:
    """Sends with `POST /2010-04-01/Accounts/{sid}/Messages.json` on a shared client."""

    name: SenderChannel = "SMS"
    # Prefix of both addresses on the wire (WhatsApp uses `whatsapp:+E164`).
    address_prefix = ""

    def __init__(
        self,
        client: ProviderClient,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        status_callback_url: str,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._account = account_sid
        self._callback = status_callback_url
        # Built once: parsing the URL and running the auth flow on every send cost more CPU
        # than the rest of a send's bookkeeping.
        self._create_url = httpx.URL(self._messages_url)
        self._headers = basic_authorization(account_sid, auth_token)

    @property
    def _messages_url(self) -> str:
        return f"{self._base}/2010-04-01/Accounts/{self._account}/Messages.json"

    async def send(self, request: SendRequest) -> SendResult:
        prefix = self.address_prefix
        form: dict[str, str | list[str]] = {"To": prefix + request.to}
        if is_messaging_service(request.from_):
            # The provider picks the number from the service's pool.
            form["MessagingServiceSid"] = request.from_
        else:
            form["From"] = prefix + request.from_
        if request.body is not None:
            form["Body"] = request.body
        if request.media_urls:
            form["MediaUrl"] = request.media_urls
        if request.content_sid:
            form["ContentSid"] = request.content_sid
            if request.content_variables:
                variables = msgspec.json.encode(request.content_variables).decode()
                form["ContentVariables"] = variables
        if request.validity_period is not None:
            form["ValidityPeriod"] = str(request.validity_period)
        callback = f"{self._callback}?attemptId={request.attempt_id.hex}"
        if request.traceparent is not None:
            # Comes back with the status callbacks: their trace is the send's (service/tracing.py).
            callback += f"&traceparent={request.traceparent}"
        form["StatusCallback"] = callback
        headers = with_request_id(self._headers, request.request_id)
        try:
            response = await self._client.post_form(self._create_url, form, headers)
        except httpx.TransportError as exc:
            return failed_call(exc)
        return _classify(response)

    async def find_submitted(
        self, *, attempt_id: uuid.UUID, to: str, from_: str, since: datetime, body: str | None
    ) -> list[str]:
        # The provider lists newest first: past the earliest time the attempt could have been
        # created at, nothing further down can be it.
        earliest = since - timedelta(seconds=5)
        found: list[str] = []
        # A Messaging Service's message shows the number it picked as From (none while it is
        # still queued): list by To and match the service.
        service = from_ if is_messaging_service(from_) else None
        first: dict[str, str] = {
            "To": self.address_prefix + to,
            "DateSent>": (since - timedelta(days=1)).strftime("%Y-%m-%d"),
            "PageSize": "100",
        }
        if service is None:
            first["From"] = self.address_prefix + from_
        params: dict[str, str] | None = first
        url = self._messages_url
        for _ in range(20):
            response = await self._client.get(url, params=params, headers=self._headers)
            response.raise_for_status()
            page = msgspec.json.decode(response.content, type=_TwilioPage)
            for listed in page.messages:
                created = _parse_rfc2822(listed.date_created)
                if created is not None and created < earliest:
                    return found
                if service is not None and listed.messaging_service_sid != service:
                    continue
                if body is None or listed.body == body:
                    found.append(listed.sid)
            if not page.next_page_uri:
                return found
            url, params = f"{self._base}{page.next_page_uri}", None
        return found


def _parse_rfc2822(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _classify(response: httpx.Response) -> SendResult:
    if response.status_code in (200, 201):
        try:
            message = msgspec.json.decode(response.content, type=_TwilioMessage)
        except msgspec.DecodeError:
            return SendResult(verdict="UNKNOWN", error_message="unreadable provider answer")
        status = PROVIDER_TO_ATTEMPT.get(message.status, "QUEUED")
        if status == "FAILED":
            return SendResult(
                verdict="PERMANENT",
                provider_sid=message.sid,
                status="FAILED",
                error_code=message.error_code,
                error_message=message.error_message,
            )
        return SendResult(verdict="ACCEPTED", provider_sid=message.sid, status=status)
    return classify_error(response)


def classify_error(response: httpx.Response) -> SendResult:
    """A provider's refusal: transient (retry later) or permanent, with its code and text."""
    try:
        error = msgspec.json.decode(response.content, type=_TwilioError)
    except msgspec.DecodeError:
        error = _TwilioError()
    code = error.code or response.status_code
    message_text = error.message or f"provider answered HTTP {response.status_code}"
    if response.status_code in _TRANSIENT_STATUS:
        return SendResult(
            verdict="TRANSIENT",
            status="FAILED",
            error_code=code,
            error_message=message_text,
            retry_after_s=_retry_after(response),
        )
    return SendResult(
        verdict="PERMANENT", status="FAILED", error_code=code, error_message=message_text
    )
