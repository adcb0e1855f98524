"""HTTP routes of the operations console (ext): server-rendered pages under /console, signed in
with the API's own credentials. Thin: check the session (and the CSRF token of a form), one
logic call, a template. Kept out of the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, ServerSentEvent, ServerSentEventMessage, Template

from schemas.suppressions import SuppressionCreate
from service.accounts import logic as accounts
from service.console import logic, present, sessions
from service.errors import ApiError, Problem, TooManyRequests, ValidationFailed
from service.messages import logic as messages
from service.operations import logic as operations
from service.state import AppState
from service.suppressions import logic as suppressions

OPERATIONS_PER_PAGE = 20
MESSAGES_PER_PAGE = 50
SUPPRESSIONS_PER_PAGE = 50
DELIVERIES_PER_PAGE = 25
SIGN_IN_TTL_S = 60 * 60

# What a redirect after a form may announce (`?notice=`): fixed texts, nothing reflected.
NOTICES = {
    "canceled": "The operation was canceled: its messages not yet handed to a provider will "
    "not be sent.",
    "suppressed": "The number was added to the suppression list.",
    "lifted": "The number was taken off the suppression list.",
    "redelivered": "The delivery is due again and will be sent within seconds.",
}

# Scripts and styles only from our own files (no inline script, handler attribute or style
# attribute runs), nothing framed, forms posted only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# On every console answer (the router's layer adds them; pages, error pages included, set them
# themselves, as an exception's answer skips the layers).
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

PageToken = Annotated[str | None, QueryParameter(name="pageToken", required=False)]
Text = Annotated[str | None, QueryParameter(required=False)]
OperationId = Annotated[str, PathParameter()]
MessageId = Annotated[str, PathParameter()]
WebhookId = Annotated[str, PathParameter()]
DeliveryId = Annotated[str, PathParameter()]


@dataclass(frozen=True)
class ConsoleConfig:
    key: bytes
    secure_cookies: bool
    public_host: str
    static_versions: dict[str, str]
    retry_hours: float


class SignInRequired(Exception):
    """No session, or one that expired or whose credential changed."""


class FormRefused(HTTPException):
    """A form without this session's CSRF token, or posted from another origin."""

    status_code = 403


def config_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ConsoleConfig:
    config: ConsoleConfig = connection.route_handler.opt["console"]
    return config


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> sessions.Session:
    session: sessions.Session = connection.scope["state"]["console_session"]
    return session


async def require_session(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A valid session whose credential still exists with the same secret; the account's
    request quota is the API's."""
    state: AppState = connection.app.state.comms
    config = config_of(connection)
    session = sessions.read_session(
        config.key, connection.cookies.get(sessions.COOKIE_NAME), state.clock().timestamp()
    )
    if session is None:
        raise SignInRequired()
    stored = await accounts.stored_credential(state.pool, session.username)
    if stored is None or not sessions.same_credential(
        config.key, session, stored.account_sid, stored.secret_hash
    ):
        raise SignInRequired()
    retry_after_s = await state.quota.retry_after_s(session.account_sid)
    if retry_after_s is not None:
        raise TooManyRequests(retry_after_s)
    connection.scope["state"]["console_session"] = session


def _same_origin(request: Request[Any, Any, Any], config: ConsoleConfig) -> bool:
    """A form posted from a page of ours: no Origin (an older browser; the token decides), or
    one naming this host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = urlsplit(origin).netloc
    return bool(host) and host in (request.headers.get("host"), config.public_host)


async def _checked_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form, once its origin and CSRF token are checked."""
    config = config_of(request)
    form = await request.form()
    fields = {name: str(form.get(name)) for name in form}
    if not _same_origin(request, config) or not sessions.csrf_matches(
        config.key, session_of(request), fields.get("csrf")
    ):
        raise FormRefused("This form has expired: reload the page and try again.")
    return fields


def _blank(value: str | None) -> str | None:
    return value if value and value.strip() else None


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    section: str,
    status_code: int = 200,
    **context: Any,
) -> Template:
    config = config_of(request)
    session: sessions.Session | None = request.scope["state"].get("console_session")
    notice = NOTICES.get(request.query_params.get("notice") or "")
    return Template(
        template_name=template,
        context={
            "section": section,
            "session": session,
            "csrf": sessions.csrf_token(config.key, session) if session else "",
            "notice": notice,
            "static_versions": config.static_versions,
            **context,
        },
        status_code=status_code,
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


def _see_other(path: str, notice: str | None = None) -> Redirect:
    return Redirect(f"{path}?notice={notice}" if notice else path, status_code=303)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console"


class SignInController(Controller):
    path = "/"

    @get("/sign-in", name="console:sign-in")
    async def sign_in_form(self, request: Request[Any, Any, Any], next: Text = None) -> Template:
        return self._form(request, next=_safe_next(next))

    @post("/sign-in", status_code=303)
    async def sign_in(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Response[Any]:
        config = config_of(request)
        form = await request.form()
        fields = {name: str(form.get(name)) for name in form}
        expected = request.cookies.get(sessions.SIGN_IN_COOKIE_NAME)
        target = _safe_next(fields.get("next"))
        if not _same_origin(request, config) or not expected or fields.get("token") != expected:
            return self._form(
                request, next=target, error="The form had expired; try again.", status_code=403
            )
        username = fields.get("username", "").strip()
        secret = fields.get("secret", "")
        account_sid = await accounts.check_credentials(
            comms.pool, comms.credentials, username, secret
        )
        if account_sid is None:
            return self._form(
                request,
                next=target,
                error="Those credentials were not accepted.",
                status_code=401,
            )
        _, cookie = sessions.open_session(
            config.key,
            account_sid=account_sid,
            username=username,
            secret_hash=accounts.hash_secret(secret),
            now_s=comms.clock().timestamp(),
        )
        return Redirect(
            target,
            status_code=303,
            cookies=[
                self._cookie(config, sessions.COOKIE_NAME, cookie, sessions.SESSION_TTL_S),
                self._cookie(config, sessions.SIGN_IN_COOKIE_NAME, "", 0),
            ],
        )

    def _form(
        self,
        request: Request[Any, Any, Any],
        *,
        next: str,
        error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        config = config_of(request)
        token = sessions.sign_in_token()
        response = page(
            request,
            "sign_in.html",
            section="sign-in",
            status_code=status_code,
            token=token,
            next=next,
            error=error,
        )
        response.cookies.append(
            self._cookie(config, sessions.SIGN_IN_COOKIE_NAME, token, SIGN_IN_TTL_S)
        )
        return response

    @staticmethod
    def _cookie(config: ConsoleConfig, name: str, value: str, max_age: int) -> Cookie:
        return Cookie(
            key=name,
            value=value,
            max_age=max_age,
            path="/console",
            httponly=True,
            secure=config.secure_cookies,
            samesite="strict",
        )


class ConsoleController(Controller):
    """Every page behind a session."""

    path = "/"
    guards = [require_session]

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        await _checked_form(request)
        config = config_of(request)
        return Redirect(
            "/console/sign-in",
            status_code=303,
            cookies=[SignInController._cookie(config, sessions.COOKIE_NAME, "", 0)],
        )

    @get("/", name="console:operations")
    async def operations(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        status: Text = None,
        tags: Text = None,
        page_token: PageToken = None,
    ) -> Template:
        status, tag_filter = _blank(status), _blank(tags)
        problems: list[Problem] = []
        listed = []
        next_token = None
        try:
            found = await operations.list_operations(
                comms.pool,
                account_sid=session_of(request).account_sid,
                status=status,
                tags=present.tags_query(tag_filter),
                page_size=OPERATIONS_PER_PAGE,
                page_token=_blank(page_token),
            )
            listed = [(op, present.progress(op)) for op in found.operations]
            next_token = found.pagination.next
        except ValidationFailed as exc:
            problems = exc.problems
        return page(
            request,
            "operations.html",
            section="operations",
            operations=listed,
            statuses=operations.OPERATION_STATUSES,
            status=status or "",
            tags=tag_filter or "",
            next_token=next_token,
            paged=page_token is not None,
            problems=problems,
        )

    @get("/operations/{operation_id:str}")
    async def operation(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operation_id: OperationId,
        status: Text = None,
        page_token: PageToken = None,
    ) -> Template:
        view = await logic.operation_view(
            comms.pool,
            account_sid=session_of(request).account_sid,
            operation_id=operation_id,
            status=_blank(status),
            page_size=MESSAGES_PER_PAGE,
            page_token=_blank(page_token),
            base_url=comms.base_url,
        )
        return page(
            request,
            "operation.html",
            section="operations",
            view=view,
            statuses=messages.MESSAGE_STATUSES,
            status=(_blank(status) or "").upper(),
            paged=page_token is not None,
        )

    @get("/operations/{operation_id:str}/cancel")
    async def confirm_cancel(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operation_id: OperationId,
    ) -> Template:
        operation = await operations.get_operation(
            comms.pool, account_sid=session_of(request).account_sid, operation_id=operation_id
        )
        return page(
            request,
            "cancel.html",
            section="operations",
            operation=operation,
            progress=present.progress(operation),
            cancelable=operation.status in present.CANCELABLE_OPERATION_STATUSES,
        )

    @post("/operations/{operation_id:str}/cancel", status_code=303)
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operation_id: OperationId,
    ) -> Redirect:
        await _checked_form(request)
        await operations.cancel_operation(
            comms.pool,
            account_sid=session_of(request).account_sid,
            operation_id=operation_id,
            now=comms.clock(),
        )
        return _see_other(f"/console/operations/{quote(operation_id)}", "canceled")

    @get("/messages/{message_id:str}")
    async def message(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        message_id: MessageId,
    ) -> Template:
        view = await logic.message_view(
            comms.pool,
            account_sid=session_of(request).account_sid,
            message_id=message_id,
            base_url=comms.base_url,
        )
        return page(request, "message.html", section="operations", view=view)

    @get("/senders")
    async def senders(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Template:
        view = await logic.senders_view(
            comms.pool, account_sid=session_of(request).account_sid, now=comms.clock()
        )
        return page(request, "senders.html", section="senders", view=view)

    @get("/suppressions")
    async def suppression_list(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        address: Text = None,
        page_token: PageToken = None,
    ) -> Template:
        config, session = config_of(request), session_of(request)
        wanted = _blank(address)
        problems: list[Problem] = []
        rows: list[tuple[str, str, str, str]] = []
        next_token = None
        try:
            found = await suppressions.list_suppressions(
                comms.pool,
                account_sid=session.account_sid,
                address=wanted.strip() if wanted else None,
                page_size=SUPPRESSIONS_PER_PAGE,
                page_token=_blank(page_token),
            )
            # The remove button sends the number back sealed: the page never holds it in full.
            rows = [
                (
                    present.mask_phone(s.address),
                    s.source,
                    s.created_at,
                    sessions.seal(config.key, session, s.address),
                )
                for s in found.suppressions
            ]
            next_token = found.pagination.next
        except ValidationFailed as exc:
            problems = exc.problems
        return page(
            request,
            "suppressions.html",
            section="suppressions",
            rows=rows,
            searched=present.mask_phone(wanted.strip()) if wanted else "",
            next_token=next_token,
            paged=page_token is not None,
            problems=problems,
        )

    @post("/suppressions", status_code=303)
    async def suppress(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Response[Any]:
        fields = await _checked_form(request)
        try:
            await suppressions.create_suppression(
                comms.pool,
                account_sid=session_of(request).account_sid,
                request=SuppressionCreate(address=fields.get("address", "").strip()),
                now=comms.clock(),
            )
        except ValidationFailed as exc:
            return page(
                request,
                "suppressions.html",
                section="suppressions",
                status_code=400,
                rows=[],
                searched="",
                next_token=None,
                paged=False,
                problems=exc.problems,
            )
        return _see_other("/console/suppressions", "suppressed")

    @post("/suppressions/remove", status_code=303)
    async def lift(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Redirect:
        fields = await _checked_form(request)
        session = session_of(request)
        address = sessions.unseal(config_of(request).key, session, fields.get("ref", ""))
        if address is None:
            raise FormRefused("This form has expired: reload the page and try again.")
        await suppressions.delete_suppression(
            comms.pool, account_sid=session.account_sid, address=address
        )
        return _see_other("/console/suppressions", "lifted")

    @get("/webhooks")
    async def webhooks(
        self, request: Request[Any, Any, Any], comms: NamedDependency[AppState]
    ) -> Template:
        views = await logic.webhooks_view(comms.pool, account_sid=session_of(request).account_sid)
        return page(request, "webhooks.html", section="webhooks", endpoints=views)

    @get("/webhooks/{webhook_id:str}")
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        webhook_id: WebhookId,
        page_token: PageToken = None,
    ) -> Template:
        view = await logic.endpoint_view(
            comms.pool,
            account_sid=session_of(request).account_sid,
            webhook_id=webhook_id,
            page_size=DELIVERIES_PER_PAGE,
            page_token=_blank(page_token),
        )
        return page(
            request, "webhook.html", section="webhooks", view=view, paged=page_token is not None
        )

    @post("/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver", status_code=303)
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        webhook_id: WebhookId,
        delivery_id: DeliveryId,
    ) -> Redirect:
        fields = await _checked_form(request)
        await logic.redeliver(
            comms.pool,
            account_sid=session_of(request).account_sid,
            webhook_id=webhook_id,
            delivery_id=delivery_id,
            retry_hours=config_of(request).retry_hours,
            now=comms.clock(),
        )
        back = "/console/webhooks"
        if fields.get("back") == "endpoint":
            back = f"/console/webhooks/{quote(webhook_id)}"
        return _see_other(back, "redelivered")

    @get("/live")
    async def live(
        self,
        request: Request[Any, Any, Any],
        comms: NamedDependency[AppState],
        operation_ids: Annotated[
            str | None, QueryParameter(name="operations", required=False)
        ] = None,
    ) -> ServerSentEvent:
        """The progress of the listed operations (comma-separated ids) as Server-Sent Events:
        `progress` (the bar's data), `finished` (no more changes), then `end`."""
        wanted = [part for part in (operation_ids or "").split(",") if part]
        updates = logic.follow_progress(
            comms.pool,
            comms.feed,
            account_sid=session_of(request).account_sid,
            operation_ids=wanted,
            base_url=comms.base_url,
        )

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            async for update in updates:
                if update is None:
                    yield ServerSentEventMessage(comment="idle")
                elif isinstance(update, logic.Finished):
                    yield ServerSentEventMessage(
                        data=json.dumps({"id": update.id}), event="finished"
                    )
                else:
                    yield ServerSentEventMessage(data=_progress_json(update), event="progress")
            yield ServerSentEventMessage(data="{}", event="end")

        return ServerSentEvent(stream(), headers={"Cache-Control": "no-store"})


def _progress_json(progress: present.Progress) -> str:
    return json.dumps(
        {
            "id": progress.id,
            "status": progress.status,
            "total": progress.total,
            "percent": progress.percent,
            "finished": progress.finished,
            "label": progress.label,
            "segments": [
                {"status": s.status, "count": s.count, "x": s.x, "width": s.width}
                for s in progress.segments
            ],
        }
    )


# Errors as pages --------------------------------------------------------------------------------


def _sign_in_redirect(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET" or target.startswith("/console/live"):
        target = "/console"
    return Redirect(
        f"/console/sign-in?next={quote(target, safe='')}",
        status_code=303,
        cookies=[
            Cookie(key=sessions.COOKIE_NAME, value="", max_age=0, path="/console", httponly=True)
        ],
    )


def _api_error_page(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    response = page(
        request,
        "error.html",
        section="error",
        status_code=exc.status_code,
        title=_TITLES.get(exc.status_code, "Something went wrong"),
        problems=exc.problems,
    )
    response.headers.update(exc.headers)
    return response


def _http_error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    message = exc.detail if isinstance(exc, FormRefused) else _TITLES.get(exc.status_code, "")
    return page(
        request,
        "error.html",
        section="error",
        status_code=exc.status_code,
        title=_TITLES.get(exc.status_code, "Something went wrong"),
        problems=[Problem(0, message or "The request could not be handled.")],
    )


_TITLES = {
    400: "That request was not valid",
    403: "Refused",
    404: "Not found",
    405: "Not allowed",
    409: "Nothing to do",
    429: "Too many requests",
    503: "Unavailable",
}

EXCEPTION_HANDLERS: dict[Any, Any] = {
    SignInRequired: _sign_in_redirect,
    ApiError: _api_error_page,
    HTTPException: _http_error_page,
}
