"""POST/GET /2010-04-01/Accounts/{AccountSid}/Messages…: answers validated against Twilio's
OpenAPI document, validation and magic numbers, auth, listing and paging."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from sandbox import magic

LIST_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
FETCH_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
VALID_FROM = magic.VALID_FROM
TO = "+14155550100"


def assert_message(schema: Any, body: dict[str, Any], status: int = 201) -> None:
    """Valid against Twilio's schema, and exactly Twilio's set of keys."""
    path, method = (LIST_PATH, "post") if status == 201 else (FETCH_PATH, "get")
    schema.validate(path, method, status, body)
    expected = set(schema.component("api.v2010.account.message")["properties"])
    assert set(body) == expected


async def test_create_answers_twilio_message_resource(sandbox: Any, messages_schema: Any) -> None:
    response = await sandbox.send(To=TO, From=VALID_FROM, Body="Hello from the sandbox")

    assert response.status_code == 201
    body = response.json()
    assert_message(messages_schema, body)
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["account_sid"] == sandbox.account_sid
    assert body["api_version"] == "2010-04-01"
    assert body["status"] == "queued"
    assert body["direction"] == "outbound-api"
    assert body["to"] == TO
    assert body["from"] == VALID_FROM
    assert body["num_segments"] == "1"
    assert body["num_media"] == "0"
    assert body["error_code"] is None
    assert body["messaging_service_sid"] is None
    assert body["uri"] == f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/{body['sid']}.json"
    assert body["subresource_uris"]["media"].endswith(f"/Messages/{body['sid']}/Media.json")
    created = parsedate_to_datetime(body["date_created"])
    assert abs(created - datetime.now(UTC)) < timedelta(seconds=5)
    assert response.headers["content-type"].startswith("application/json")


async def test_media_message_gets_mm_sid(sandbox: Any, messages_schema: Any) -> None:
    response = await sandbox.send(
        data={
            "To": TO,
            "From": VALID_FROM,
            "MediaUrl": ["https://example.com/a.png", "https://example.com/b.jpg"],
        }
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert_message(messages_schema, body)
    assert body["sid"].startswith("MM")
    assert body["num_media"] == "2"
    media = await sandbox.http.get(body["subresource_uris"]["media"])
    assert media.status_code == 200
    messages_schema.validate(
        "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json",
        "get",
        200,
        media.json(),
    )
    assert [m["content_type"] for m in media.json()["media_list"]] == ["image/png", "image/jpeg"]


async def test_messaging_service_message_is_accepted_then_gets_a_sender(
    sandbox: Any, messages_schema: Any
) -> None:
    service = "MG" + "1" * 32
    response = await sandbox.send(To=TO, MessagingServiceSid=service, Body="hi")

    body = response.json()
    assert response.status_code == 201
    assert_message(messages_schema, body)
    assert body["status"] == "accepted"
    assert body["messaging_service_sid"] == service
    assert body["from"] is None
    assert body["num_segments"] == "0"

    await sandbox.drain()
    fetched = (await sandbox.fetch(body["sid"])).json()
    assert fetched["status"] == "delivered"
    assert fetched["from"].startswith("+1201555")
    assert fetched["num_segments"] == "1"


async def test_fetch_follows_the_lifecycle(sandbox: Any, messages_schema: Any) -> None:
    sid = (await sandbox.send(To=TO, From=VALID_FROM, Body="x")).json()["sid"]
    await sandbox.drain()

    response = await sandbox.fetch(sid)

    assert response.status_code == 200
    body = response.json()
    assert_message(messages_schema, body, status=200)
    assert body["status"] == "delivered"
    assert body["date_sent"] is not None
    assert body["price"] == "-0.00790"
    assert body["price_unit"] == "USD"


async def test_fetch_unknown_message_is_twilio_404(sandbox: Any, messages_schema: Any) -> None:
    response = await sandbox.fetch("SM" + "0" * 32)

    assert response.status_code == 404
    messages_schema.validate_error(response.json())
    assert response.json()["code"] == 20404
    assert response.json()["status"] == 404


async def test_fetch_without_json_suffix_is_404(sandbox: Any) -> None:
    response = await sandbox.http.get(
        f"/2010-04-01/Accounts/{sandbox.account_sid}/Messages/SM{'0' * 32}"
    )
    assert response.status_code == 404
    assert response.json()["code"] == 20404


# --- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, ("AC" + "a" * 32, "wrong-token"), ("AC" + "c" * 32, "sandbox-auth-token")],
    ids=["missing", "wrong-token", "unknown-account"],
)
async def test_bad_credentials_are_401_20003(
    sandbox: Any, messages_schema: Any, auth: tuple[str, str] | None
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url, auth=auth) as client:
        response = await client.post(
            sandbox.messages_path, data={"To": TO, "From": VALID_FROM, "Body": "x"}
        )

    assert response.status_code == 401
    messages_schema.validate_error(response.json())
    assert response.json()["code"] == 20003
    assert response.headers["www-authenticate"].startswith("Basic")
    assert await sandbox.sent() == []


async def test_path_account_must_match_credentials(sandbox: Any) -> None:
    other = "AC" + "b" * 32  # a configured account, but not the one authenticating
    response = await sandbox.http.post(
        f"/2010-04-01/Accounts/{other}/Messages.json",
        data={"To": TO, "From": VALID_FROM, "Body": "x"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == 20003


async def test_accounts_see_only_their_messages(sandbox: Any) -> None:
    sid = (await sandbox.send(To=TO, From=VALID_FROM, Body="x")).json()["sid"]
    other = "AC" + "b" * 32
    async with httpx.AsyncClient(base_url=sandbox.base_url, auth=(other, "second-token")) as client:
        fetched = await client.get(f"/2010-04-01/Accounts/{other}/Messages/{sid}.json")
        listed = await client.get(f"/2010-04-01/Accounts/{other}/Messages.json")
    assert fetched.status_code == 404
    assert listed.json()["messages"] == []


# --- validation -----------------------------------------------------------------------------

BASE = {"To": TO, "From": VALID_FROM, "Body": "hello"}


def without(*names: str, **changes: Any) -> dict[str, Any]:
    fields = {k: v for k, v in BASE.items() if k not in names}
    fields.update(changes)
    return fields


VALIDATION_CASES = [
    ("missing-to", without("To"), 21604),
    ("empty-to", without(To=""), 21604),
    ("to-not-e164", without(To="4155550100"), 21211),
    ("to-letters", without(To="+1415CALLME"), 21211),
    ("to-unknown-channel", without(To="messenger:+14155550100"), 21211),
    ("missing-from-and-service", without("From"), 21603),
    ("from-invalid", without(From="+0123"), 21212),
    ("from-too-long-alphanumeric", without(From="ACMECORPORATION"), 21212),
    ("bad-service-sid", without("From", MessagingServiceSid="MG123"), 21705),
    ("unknown-service", without("From", MessagingServiceSid="MG" + "0" * 32), 21701),
    ("no-body-no-media", without("Body"), 21602),
    ("no-body-with-service", without("Body", "From", MessagingServiceSid="MG" + "2" * 32), 21619),
    ("body-too-long", without(Body="x" * 1601), 21617),
    (
        "too-many-media",
        without(MediaUrl=[f"https://example.com/{i}.png" for i in range(11)]),
        21623,
    ),
    ("media-not-a-url", without(MediaUrl=["not a url"]), 21620),
    ("variables-without-content", without(ContentVariables='{"1": "x"}'), 21654),
    ("bad-content-sid", without("Body", ContentSid="HX123"), 21655),
    ("bad-variables", without(ContentSid="HX" + "a" * 32, ContentVariables="[1"), 21656),
    ("validity-zero", without(ValidityPeriod="0"), 21624),
    ("validity-too-long", without(ValidityPeriod="36001"), 21624),
    ("validity-not-int", without(ValidityPeriod="soon"), 21624),
    ("bad-status-callback", without(StatusCallback="ftp://example.com/x"), 21609),
    ("channel-mismatch", without(From="whatsapp:+14155550111"), 21910),
]


@pytest.mark.parametrize(
    ("fields", "code"),
    [case[1:] for case in VALIDATION_CASES],
    ids=[c[0] for c in VALIDATION_CASES],
)
async def test_validation_errors_are_twilio_400s(
    sandbox: Any, messages_schema: Any, fields: dict[str, Any], code: int
) -> None:
    response = await sandbox.send(data=fields)

    assert response.status_code == 400, response.text
    body = response.json()
    messages_schema.validate_error(body)
    assert body["code"] == code
    assert body["status"] == 400
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert await sandbox.sent() == []


@pytest.mark.parametrize(
    "fields",
    [
        without(Body="x" * 1600),
        without("Body", MediaUrl=["https://example.com/only-media.gif"]),
        without("Body", ContentSid="HX" + "b" * 32, ContentVariables='{"1": "Ana"}'),
        without(MediaUrl=[f"https://example.com/{i}.png" for i in range(10)]),
        without(From="MyBrand"),
        without(From="55555"),
        without(ValidityPeriod="36000"),
    ],
    ids=[
        "1600-chars",
        "media-only",
        "content-sid",
        "ten-media",
        "alphanumeric",
        "short-code",
        "validity-max",
    ],
)
async def test_boundary_values_are_accepted(sandbox: Any, fields: dict[str, Any]) -> None:
    response = await sandbox.send(data=fields)
    assert response.status_code == 201, response.text


# --- magic numbers --------------------------------------------------------------------------

MAGIC_CASES = [
    *[("From", number, code) for number, code in magic.FROM_ERRORS.items()],
    *[("To", number, code) for number, code in magic.TO_ERRORS.items()],
]


@pytest.mark.parametrize(
    ("field", "number", "code"), MAGIC_CASES, ids=[f"{f}{n}" for f, n, _ in MAGIC_CASES]
)
async def test_twilio_magic_numbers_fail_synchronously(
    sandbox: Any, messages_schema: Any, field: str, number: str, code: int
) -> None:
    response = await sandbox.send(data={**BASE, field: number})

    assert response.status_code == 400
    body = response.json()
    messages_schema.validate_error(body)
    assert body["code"] == code
    assert await sandbox.sent() == []


def test_magic_table_is_what_the_design_lists() -> None:
    assert magic.FROM_ERRORS == {
        "+15005550001": 21212,
        "+15005550007": 21606,
        "+15005550008": 21611,
    }
    assert magic.TO_ERRORS == {
        "+15005550001": 21211,
        "+15005550002": 21612,
        "+15005550003": 21408,
        "+15005550004": 21610,
        "+15005550009": 21614,
    }


@pytest.mark.parametrize(
    ("to", "status", "error_code"),
    [
        ("+15005550010", "undelivered", 30003),
        ("+15005550011", "undelivered", 30005),
        ("+15005550012", "undelivered", 30006),
        ("+15005550013", "undelivered", 30007),
        ("+15005550014", "failed", 30008),
        ("+15005550015", "read", None),
        ("+15005550016", "sent", None),
        (TO, "delivered", None),
    ],
)
async def test_sandbox_outcome_numbers(
    sandbox: Any, messages_schema: Any, to: str, status: str, error_code: int | None
) -> None:
    response = await sandbox.send(To=to, From=VALID_FROM, Body="outcome")
    assert response.status_code == 201
    await sandbox.drain()

    body = (await sandbox.fetch(response.json()["sid"])).json()
    assert_message(messages_schema, body, status=200)
    assert body["status"] == status
    assert body["error_code"] == error_code
    assert (body["error_message"] is None) == (error_code is None)
    assert (body["date_sent"] is None) == (status == "failed")


# --- segments through the API ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, "1"),
        ("a" * 161, "2"),
        ("a" * 306, "2"),
        ("a" * 307, "3"),
        ("€" * 80, "1"),
        ("€" * 81, "2"),
        ("é" * 160, "1"),
        ("ж" * 70, "1"),
        ("ж" * 71, "2"),
        ("ж" * 134, "2"),
        ("ж" * 135, "3"),
        ("😀" * 35, "1"),
        ("😀" * 36, "2"),
    ],
)
async def test_num_segments(sandbox: Any, body: str, segments: str) -> None:
    response = await sandbox.send(To=TO, From=VALID_FROM, Body=body)
    assert response.json()["num_segments"] == segments


# --- listing --------------------------------------------------------------------------------


async def test_list_pages_newest_first_with_twilio_uris(sandbox: Any, messages_schema: Any) -> None:
    sids = [
        (await sandbox.send(To=TO, From=VALID_FROM, Body=f"m{i}")).json()["sid"] for i in range(5)
    ]
    await sandbox.send(To="+14155550199", From=VALID_FROM, Body="other recipient")

    seen: list[str] = []
    url: str | None = f"{sandbox.messages_path}?To=%2B14155550100&PageSize=2"
    pages = []
    while url:
        response = await sandbox.http.get(url)
        assert response.status_code == 200
        page = response.json()
        messages_schema.validate(LIST_PATH, "get", 200, page)
        pages.append(page)
        seen.extend(message["sid"] for message in page["messages"])
        url = page["next_page_uri"]

    assert seen == list(reversed(sids))
    assert [p["page"] for p in pages] == [0, 1, 2]
    assert [(p["start"], p["end"]) for p in pages] == [(0, 1), (2, 3), (4, 4)]
    assert pages[0]["previous_page_uri"] is None
    assert (
        pages[0]["first_page_uri"] == f"{sandbox.messages_path}?To=%2B14155550100&PageSize=2&Page=0"
    )
    assert pages[1]["next_page_uri"].startswith(
        f"{sandbox.messages_path}?To=%2B14155550100&PageSize=2&Page=2&PageToken=PA"
    )
    assert all(p["page_size"] == 2 for p in pages)

    back = (await sandbox.http.get(pages[2]["previous_page_uri"])).json()
    assert [m["sid"] for m in back["messages"]] == [m["sid"] for m in pages[1]["messages"]]


async def test_list_filters_by_from_and_date_sent(sandbox: Any) -> None:
    mine = (await sandbox.send(To=TO, From="+14155550123", Body="a")).json()["sid"]
    await sandbox.send(To=TO, From=VALID_FROM, Body="b")
    today = datetime.now(UTC).date()

    async def listed(**params: str) -> list[str]:
        response = await sandbox.http.get(sandbox.messages_path, params=params)
        assert response.status_code == 200, response.text
        return [message["sid"] for message in response.json()["messages"]]

    assert await listed(From="+14155550123") == [mine]
    assert await listed(From="+14155550123", DateSent=today.isoformat()) == [mine]
    assert await listed(From="+14155550123", **{"DateSent>": today.isoformat()}) == [mine]
    assert await listed(From="+14155550123", **{"DateSent<": today.isoformat()}) == [mine]
    tomorrow = (today + timedelta(days=1)).isoformat()
    yesterday = (today - timedelta(days=1)).isoformat()
    assert await listed(From="+14155550123", **{"DateSent>": tomorrow}) == []
    assert await listed(From="+14155550123", **{"DateSent<": yesterday}) == []
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await listed(From="+14155550123", **{"DateSent>": an_hour_ago}) == [mine]
    assert await listed(From="+14155550123", **{"DateSent<": an_hour_ago}) == []


async def test_list_rejects_unparseable_dates(sandbox: Any) -> None:
    response = await sandbox.http.get(sandbox.messages_path, params={"DateSent>": "last tuesday"})
    assert response.status_code == 400
    assert response.json()["code"] == 20001


async def test_empty_list_validates(sandbox: Any, messages_schema: Any) -> None:
    page = (await sandbox.http.get(sandbox.messages_path)).json()
    messages_schema.validate(LIST_PATH, "get", 200, page)
    assert page["messages"] == []
    assert page["next_page_uri"] is None
    assert page["page_size"] == 50
