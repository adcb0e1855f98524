"""/2010-04-01/Accounts/{AccountSid}/Messages…: thin handlers over messages.logic."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath

from sandbox import ids
from sandbox.auth import Account
from sandbox.clock import format_rfc2822
from sandbox.errors import TwilioError
from sandbox.messages import logic
from sandbox.messages.resource import (
    MediaPage,
    MediaResource,
    MessagePage,
    MessageResource,
    messages_path,
    render_message,
)
from sandbox.state import SandboxState


def _field(form: FormMultiDict, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


def read_create_form(form: FormMultiDict) -> logic.MessageCreate:
    return logic.MessageCreate(
        to=_field(form, "To"),
        from_=_field(form, "From"),
        messaging_service_sid=_field(form, "MessagingServiceSid"),
        body=_field(form, "Body"),
        media_urls=tuple(value for value in form.getall("MediaUrl", []) if value),
        content_sid=_field(form, "ContentSid"),
        content_variables=_field(form, "ContentVariables"),
        status_callback=_field(form, "StatusCallback"),
        validity_period=_field(form, "ValidityPeriod"),
    )


def _json_suffixed(resource: str) -> str:
    """`SM….json` -> `SM…`; the API only serves the .json representation."""
    if not resource.endswith(".json"):
        raise TwilioError(20404, f"The requested resource {resource} was not found")
    return resource.removesuffix(".json")


class MessagesController(Controller):
    path = "/2010-04-01/Accounts/{account_sid:str}"

    @post("/Messages.json", status_code=201)
    async def create_message(
        self,
        request: Request[Any, Any, Any],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> MessageResource:
        # Stamped before the body is read: reading it waits its turn in the event loop, and
        # the stamp is when the request arrived (what the benchmarks measure rates from).
        received_at = sandbox.clock.now()
        answer_lost = sandbox.faults.check_create()
        create = read_create_form(await request.form())
        record = await logic.create_message(sandbox, account.sid, create, received_at)
        if answer_lost:
            await sandbox.faults.hold_lost_answer()
        return render_message(record)

    @get("/Messages.json")
    async def list_messages(
        self,
        request: Request[Any, Any, Any],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> MessagePage:
        params = request.query_params
        query = logic.ListQuery(
            to=params.get("To"),
            from_=params.get("From"),
            date_sent=params.get("DateSent"),
            date_sent_before=params.get("DateSent<"),
            date_sent_after=params.get("DateSent>"),
            page_size=params.get("PageSize"),
            page=params.get("Page"),
            page_token=params.get("PageToken"),
        )
        return logic.list_messages(sandbox.messages, account.sid, query)

    @get("/Messages/{resource:str}")
    async def fetch_message(
        self,
        resource: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> MessageResource:
        sid = _json_suffixed(resource)
        return render_message(logic.fetch_message(sandbox.messages, account.sid, sid))

    @get("/Messages/{message_sid:str}/Media.json")
    async def list_media(
        self,
        message_sid: FromPath[str],
        account: NamedDependency[Account],
        sandbox: NamedDependency[SandboxState],
    ) -> Response[MediaPage]:
        record = logic.fetch_message(sandbox.messages, account.sid, message_sid)
        base = f"{messages_path(account.sid)}/{record.sid}/Media"
        media = [
            MediaResource(
                account_sid=account.sid,
                content_type=_content_type(url),
                date_created=format_rfc2822(record.date_created),
                date_updated=format_rfc2822(record.date_created),
                parent_sid=record.sid,
                sid=ids.derived_sid(ids.MEDIA, f"{record.sid}/{index}"),
                uri=f"{base}/{ids.derived_sid(ids.MEDIA, f'{record.sid}/{index}')}.json",
            )
            for index, url in enumerate(record.media_urls)
        ]
        page_uri = f"{base}.json?PageSize=50&Page=0"
        return Response(
            MediaPage(
                first_page_uri=page_uri,
                end=max(len(media) - 1, 0),
                previous_page_uri=None,
                media_list=media,
                uri=page_uri,
                page_size=50,
                start=0,
                next_page_uri=None,
                page=0,
            )
        )


def _content_type(url: str) -> str:
    lowered = url.lower().split("?")[0]
    for suffix, content_type in (
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".pdf", "application/pdf"),
        (".mp4", "video/mp4"),
    ):
        if lowered.endswith(suffix):
            return content_type
    return "image/jpeg"
