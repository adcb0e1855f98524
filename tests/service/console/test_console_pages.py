"""The operations console over plain HTTP: sign-in and its cookie, CSRF, the security headers,
escaping, masked numbers, tenancy, and what each page shows (the browser tests are in
test_console_browser.py)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.messages import MessageStatus
from service.accounts import logic as accounts
from service.console import CONTENT_SECURITY_POLICY
from service.settings import Settings
from tests.support.api import register_sender, send
from tests.support.console import console_client, csrf_of, form_value, form_values, sign_in
from tests.support.factories import StoredMessage, endpoint_for_every_event, insert_operation
from tests.support.tenants import Tenant, other_tenant
from tests.support.webhooks import create_webhook, deliveries_of, relay, serve_receiver

PAGES = ["/console", "/console/senders", "/console/suppressions", "/console/webhooks"]
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
_STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def in_a_week() -> str:
    return (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_no_inline_code(page: str) -> None:
    """What the Content-Security-Policy would refuse to run is not there to begin with."""
    assert not _INLINE_SCRIPT.search(page)
    assert not _HANDLER_ATTRIBUTE.search(page)
    assert not _STYLE_ATTRIBUTE.search(page)


# Signing in ------------------------------------------------------------------------------------


async def test_pages_need_a_session_and_send_to_the_sign_in_form(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        for path in [*PAGES, "/console/operations/comms_operation_01m8h0jzqsechs3yv6kh2qxj5m"]:
            answer = await http.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/console/sign-in?next=%2Fconsole")
        # Basic credentials are the API's way in, not the console's.
        answer = await http.get("/console", auth=("AC" + "0" * 32, "x"))
        assert answer.status_code == 303


async def test_signing_in_sets_a_signed_http_only_strict_cookie(
    api_url: str, tenant: Tenant
) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        answer = await sign_in(http, tenant.account_sid, tenant.auth_token)
        assert answer.status_code == 303
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("comms_console=")
        )
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert "path=/console" in flags
        page = await http.get("/console")
        assert page.status_code == 200
        assert tenant.account_sid in page.text

        # A session cookie whose signature does not hold is no session.
        value = http.cookies["comms_console"]
        payload, _, signature = value.partition(".")
        http.cookies.set(
            "comms_console", payload + "." + signature[::-1], domain="127.0.0.1", path="/console"
        )
        assert (await http.get("/console")).status_code == 303


async def test_wrong_credentials_are_refused_and_an_api_key_signs_in(
    api_url: str, tenant: Tenant, pool: asyncpg.Pool
) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        answer = await sign_in(http, tenant.account_sid, tenant.auth_token + "x")
        assert answer.status_code == 401
        assert "not accepted" in answer.text
        assert "comms_console" not in http.cookies
    key = await accounts.create_api_key(pool, tenant.account_sid)
    assert key.api_key_sid is not None
    assert key.api_key_secret is not None
    async with console_client(api_url, key.api_key_sid, key.api_key_secret) as http:
        page = await http.get("/console")
        assert tenant.account_sid in page.text


async def test_the_sign_in_form_needs_its_own_token(api_url: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        form = await http.get("/console/sign-in")
        fields = {
            "token": "not-the-cookie's",
            "username": tenant.account_sid,
            "secret": tenant.auth_token,
        }
        answer = await http.post("/console/sign-in", data=fields)
        assert answer.status_code == 403
        # Each form drawn has a token of its own (the refusal draws a new one).
        assert form_value(answer.text, "token") != form_value(form.text, "token")
        fields["token"] = form_value(answer.text, "token")
        answer = await http.post(
            "/console/sign-in", data=fields, headers={"Origin": "https://evil.example"}
        )
        assert answer.status_code == 403
        fields["token"] = form_value(answer.text, "token")
        answer = await http.post("/console/sign-in", data=fields)
        assert answer.status_code == 303


async def test_signing_out_ends_the_session(api_url: str, tenant: Tenant) -> None:
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        csrf = await csrf_of(http)
        answer = await http.post("/console/sign-out", data={"csrf": csrf})
        assert answer.status_code == 303
        assert (await http.get("/console")).status_code == 303


# Forms: CSRF -----------------------------------------------------------------------------------


async def test_forms_need_the_sessions_csrf_token_and_our_origin(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    operation_id = await send(client, ["+15558675310"], schedule={"sendAt": [in_a_week()]})
    cancel = f"/console/operations/{operation_id}/cancel"
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        csrf = await csrf_of(http)
        assert (await http.post(cancel, data={})).status_code == 403
        assert (await http.post(cancel, data={"csrf": csrf[:-2] + "xx"})).status_code == 403
        refused = await http.post(
            cancel, data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert refused.status_code == 403
        assert "expired" in refused.text
        operation = await client.get(f"/v1/Messages/Operations/{operation_id}")
        assert operation.json()["status"] == "SCHEDULED"

        answer = await http.post(cancel, data={"csrf": csrf})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/console/operations/{operation_id}?notice=canceled"
        operation = await client.get(f"/v1/Messages/Operations/{operation_id}")
        assert operation.json()["status"] == "CANCELED"
        # Nothing left to cancel: the API's 409, as a page.
        again = await http.post(cancel, data={"csrf": csrf})
        assert again.status_code == 409
        assert "text/html" in again.headers["content-type"]


# Headers, escaping, masking ----------------------------------------------------------------------


async def test_every_page_forbids_inline_scripts_and_has_none(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    operation_id = await send(client, ["+15558675310"], schedule={"sendAt": [in_a_week()]})
    messages = await client.get("/v1/Messages", params={"operationId": operation_id})
    message_id = messages.json()["messages"][0]["id"]
    await endpoint_for_every_event(pool, tenant.account_sid)
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        webhooks = await http.get("/console/webhooks")
        webhook_id = re.findall(r"/console/webhooks/(comms_webhook_\w+)", webhooks.text)[0]
        paths = [
            *PAGES,
            "/console/sign-in",
            f"/console/operations/{operation_id}",
            f"/console/operations/{operation_id}/cancel",
            f"/console/messages/{message_id}",
            f"/console/webhooks/{webhook_id}",
            "/console/operations/comms_operation_01m8h0jzqsechs3yv6kh2qxj5m",  # a 404 page
        ]
        for path in paths:
            answer = await http.get(path)
            assert answer.headers.get("content-security-policy") == CONTENT_SECURITY_POLICY, path
            assert "script-src 'self'" in CONTENT_SECURITY_POLICY
            assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["cache-control"] == "no-store"
            assert_no_inline_code(answer.text)
        script = await http.get("/console/static/console.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]


async def test_values_are_escaped(api_url: str, tenant: Tenant, client: httpx.AsyncClient) -> None:
    attack = '<script>alert("x")</script>'
    operation_id = await send(
        client,
        ["+15558675310"],
        tags={"campaign": attack, "q": '"><img src=x onerror=alert(1)>'},
        content={"text": attack + " {{ name }}"},
        schedule={"sendAt": [in_a_week()]},
    )
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        for path in ["/console", f"/console/operations/{operation_id}"]:
            page = await http.get(path)
            assert attack not in page.text
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
            assert "<img src=x" not in page.text
            assert_no_inline_code(page.text)


async def test_phone_numbers_are_masked_except_on_the_message_page(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    number = "+15558675310"
    await register_sender(client, "+15017122661")
    operation_id = await send(client, [number], schedule={"sendAt": [in_a_week()]})
    assert (await client.post("/v1/Suppressions", json={"address": "+15558675399"})).is_success
    messages = await client.get("/v1/Messages", params={"operationId": operation_id})
    message_id = messages.json()["messages"][0]["id"]
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        operation = await http.get(f"/console/operations/{operation_id}")
        assert number not in operation.text
        assert "+15••••••310" in operation.text
        senders = await http.get("/console/senders")
        assert "+15017122661" not in senders.text
        assert "+15••••••661" in senders.text
        suppressions = await http.get("/console/suppressions")
        assert "+15558675399" not in suppressions.text
        assert "+15••••••399" in suppressions.text
        message = await http.get(f"/console/messages/{message_id}")
        assert number in message.text


# Tenancy -----------------------------------------------------------------------------------------


async def test_another_accounts_data_is_never_shown(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    operation_id = await send(client, ["+15558675310"], schedule={"sendAt": [in_a_week()]})
    messages = await client.get("/v1/Messages", params={"operationId": operation_id})
    message_id = messages.json()["messages"][0]["id"]
    await endpoint_for_every_event(pool, tenant.account_sid)
    assert (await client.post("/v1/Suppressions", json={"address": "+15558675399"})).is_success
    other = await other_tenant(pool)
    async with console_client(api_url, other.account_sid, other.auth_token) as http:
        listing = await http.get("/console")
        assert operation_id not in listing.text
        assert "No operations" in listing.text
        for path in [
            f"/console/operations/{operation_id}",
            f"/console/operations/{operation_id}/cancel",
            f"/console/messages/{message_id}",
        ]:
            assert (await http.get(path)).status_code == 404, path
        csrf = await csrf_of(http)
        cancel = await http.post(f"/console/operations/{operation_id}/cancel", data={"csrf": csrf})
        assert cancel.status_code == 404
        assert "No webhook endpoints" in (await http.get("/console/webhooks")).text
        assert "No suppressed numbers" in (await http.get("/console/suppressions")).text
        live = await http.get("/console/live", params={"operations": operation_id})
        assert live.status_code == 200
        assert "event: progress" not in live.text
        assert "event: end" in live.text
    operation = await client.get(f"/v1/Messages/Operations/{operation_id}")
    assert operation.json()["status"] == "SCHEDULED"


# Pages -------------------------------------------------------------------------------------------


async def test_operations_filter_by_status_and_tag(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    spring = await send(
        client, ["+15558675310"], tags={"campaign": "spring"}, schedule={"sendAt": [in_a_week()]}
    )
    autumn = await send(
        client, ["+15558675310"], tags={"campaign": "autumn"}, schedule={"sendAt": [in_a_week()]}
    )
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        everything = await http.get("/console")
        assert everything.text.index(autumn) < everything.text.index(spring)  # newest first
        tagged = await http.get("/console", params={"tags": "campaign:spring"})
        assert spring in tagged.text
        assert autumn not in tagged.text
        processing = await http.get("/console", params={"status": "PROCESSING"})
        assert spring not in processing.text
        assert "No operations match these filters" in processing.text
        scheduled = await http.get("/console", params={"status": "SCHEDULED", "tags": ""})
        assert spring in scheduled.text
        assert autumn in scheduled.text
        wrong = await http.get("/console", params={"tags": "no pairs here"})
        assert wrong.status_code == 200
        assert "tags must look like" in wrong.text


async def test_an_operation_shows_its_errors_by_code_and_pages_its_messages(
    api_url: str, tenant: Tenant, pool: asyncpg.Pool
) -> None:
    stored: list[StoredMessage] = [StoredMessage("PHONE", f"+1555867{i:04d}") for i in range(60)]
    failed: MessageStatus = "FAILED"
    stored += [StoredMessage("PHONE", "+15005550001", failed, 21211, "Invalid 'To'")] * 3
    stored += [StoredMessage("PHONE", "+15005550010", "UNDELIVERED", 30003, "Unreachable")] * 2
    operation_id = await insert_operation(pool, tenant.account_sid, stored, now=datetime.now(UTC))
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        page = await http.get(f"/console/operations/{operation_id}")
        assert page.status_code == 200
        text = re.sub(r"\s+", " ", page.text)
        row = text[text.index(">21211</a>") :]
        row = row[: row.index("</tr>")]
        assert "Invalid &#39;To&#39; phone number" in row
        assert 'class="num">3<' in row
        assert "Unreachable destination handset" in text
        assert 'aria-valuenow="100"' in text
        # Completed with nothing waiting: no cancel button, no live stream.
        assert "Cancel operation" not in text
        assert "data-live" not in text
        assert len(re.findall(r'href="/console/messages/', page.text)) == 50
        older = re.search(r'href="([^"]*pageToken=[^"]*)"', page.text)
        assert older is not None
        second = await http.get(older.group(1).replace("&amp;", "&"))
        assert len(re.findall(r'href="/console/messages/', second.text)) == 15
        only_failed = await http.get(
            f"/console/operations/{operation_id}", params={"status": "FAILED"}
        )
        assert len(re.findall(r'href="/console/messages/', only_failed.text)) == 3


async def test_senders_show_rate_backlog_and_oldest_wait_as_metrics_do(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sender_address = "+15017120001"
    sender_id = await register_sender(client, sender_address)
    pool_answer = await client.post(
        "/v1/SenderPools", json={"displayName": "primary <b>pool</b>", "senders": [sender_id]}
    )
    assert pool_answer.status_code == 201
    # Due now and never sent: no worker runs on the shared stack.
    await send(client, ["+15558675310", "+15558675311"], **{"from": {"senderId": sender_id}})
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        page = await http.get("/console/senders")
        metrics = (await http.get("/metrics")).text
    # The series of this sender: labelled by its id (or, in older versions, by its number).
    label = f"({re.escape(sender_id)}|SMS:{re.escape(sender_address)})"
    backlog = re.search(
        rf'comms_sender_backlog_messages{{[^}}]*sender="{label}"[^}}]*}} (\S+)', metrics
    )
    assert backlog is not None
    row = re.sub(r"\s+", " ", page.text)
    row = row[row.index(sender_id) :]
    assert "10000 segments/s" in row
    assert f'data-label="Backlog" class="num">{int(float(backlog.group(2)))}<' in row
    assert "primary &lt;b&gt;pool&lt;/b&gt;" in page.text


async def test_suppressions_are_searched_added_and_removed(
    api_url: str, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        csrf = await csrf_of(http, "/console/suppressions")
        added = await http.post(
            "/console/suppressions", data={"csrf": csrf, "address": "+15558675310"}
        )
        assert added.status_code == 303
        assert (await client.get("/v1/Suppressions")).json()["suppressions"][0][
            "address"
        ] == "+15558675310"
        wrong = await http.post("/console/suppressions", data={"csrf": csrf, "address": "12"})
        assert wrong.status_code == 400
        assert "Invalid phone number" in wrong.text

        found = await http.get("/console/suppressions", params={"address": "+15558675310"})
        assert "+15••••••310" in found.text
        missing = await http.get("/console/suppressions", params={"address": "+15558675311"})
        assert "That number is not suppressed" in missing.text

        ref = form_value(found.text, "ref")
        assert "+15558675310" not in ref
        removed = await http.post(
            "/console/suppressions/remove", data={"csrf": csrf, "ref": ref[:-3] + "abc"}
        )
        assert removed.status_code == 403
        removed = await http.post("/console/suppressions/remove", data={"csrf": csrf, "ref": ref})
        assert removed.status_code == 303
        assert (await client.get("/v1/Suppressions")).json()["suppressions"] == []


async def relay_until_delivered(
    pool: asyncpg.Pool, settings: Settings, client: httpx.AsyncClient, webhook_id: str
) -> list[dict[str, Any]]:
    """Relay runs until the endpoint has a delivery. Fan-out waits for events to settle (every
    older transaction in the cluster ended), which another session's open transaction delays:
    the condition is polled, briefly, until the test's timeout."""
    while True:
        await relay(pool, settings)
        found = await deliveries_of(client, webhook_id)
        if found:
            return found
        await asyncio.sleep(0.05)


@pytest.mark.own_stack
async def test_webhook_deliveries_show_code_and_latency_and_redeliver(
    api_url: str,
    tenant: Tenant,
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    settings: Settings,
) -> None:
    async with serve_receiver() as receiver:
        webhook = await create_webhook(
            client, f"{receiver.url}/hook", ["com.twilio.comms-api.operation.scheduled"]
        )
        await send(client, ["+15558675310"], schedule={"sendAt": [in_a_week()]})
        receiver.answers = [503]
        [delivery] = await relay_until_delivered(pool, settings, client, webhook["id"])
        async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
            page = await http.get("/console/webhooks")
            text = re.sub(r"\s+", " ", page.text)
            assert "operation.scheduled" in text
            assert 'data-label="Response" class="num">503<' in text
            latency = delivery["attempts"][0]["durationMs"]
            assert f'data-label="Latency" class="num">{latency} ms<' in text
            redeliver = re.search(r'action="(/console/webhooks/[^"]+/redeliver)"', page.text)
            assert redeliver is not None
            answer = await http.post(
                redeliver.group(1), data={"csrf": form_value(page.text, "csrf"), "back": "list"}
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console/webhooks?notice=redelivered"
            after = await http.get(answer.headers["location"])
            assert "The delivery is due again" in after.text
            await relay(pool, settings)
            [again] = await deliveries_of(client, webhook["id"])
            assert again["status"] == "SUCCEEDED"
            endpoint = await http.get(f"/console/webhooks/{webhook['id']}")
            assert 'data-label="Response" class="num">200<' in endpoint.text


async def test_console_routes_are_not_in_the_openapi_document(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        document = (await http.get("/schema/openapi.json")).json()
    assert not [path for path in document["paths"] if path.startswith("/console")]


async def test_inputs_named_csrf_carry_one_token_per_session(api_url: str, tenant: Tenant) -> None:
    async with console_client(api_url, tenant.account_sid, tenant.auth_token) as http:
        page = await http.get("/console/suppressions")
        assert len(set(form_values(page.text, "csrf"))) == 1
