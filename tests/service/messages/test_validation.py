"""POST /v1/Messages: validation reports every problem, with paths, in one 400."""

from __future__ import annotations

import httpx

from tests.support.api import is_info_url

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}


def contexts(response: httpx.Response) -> dict[str | None, int]:
    return {e["context"]: e["code"] for e in response.json()["errors"]}


async def test_several_errors_are_reported_at_once(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"address": "+15558675310", "channel": "PHONE"},
                {"address": "12345", "channel": "PHONE"},
                {"address": "+15558675311", "channel": "PIGEON"},
            ],
            "content": {},
            "from": {"address": "not-a-number", "channel": "SMS"},
            "tags": {"k" * 129: "v", "ok": "v" * 257},
            "validityPeriod": 0,
        },
    )
    assert response.status_code == 400
    found = contexts(response)
    assert found["$.to[1].address"] == 21211
    assert found["$.to[2].channel"] == 90001
    assert found["$.content"] == 21602
    assert found["$.from.address"] == 21212
    assert found["$.tags.ok"] == 90001
    assert found["$.tags." + "k" * 129] == 90001
    assert found["$.validityPeriod"] == 90001
    for error in response.json()["errors"]:
        assert is_info_url(error["code"], error["infoUrl"]), error
        assert error["message"]


async def test_limits(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [],
            "content": {"text": "x" * 1601, "media": [{"url": "https://e.x/a.png"}] * 11},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 400
    found = contexts(response)
    assert found == {"$.to": 21604, "$.content.text": 21617, "$.content.media": 21623}


async def test_too_many_recipients(client: httpx.AsyncClient) -> None:
    to = [{"address": "+15558675310", "channel": "PHONE"}] * 10_001
    response = await client.post(
        "/v1/Messages", json={"to": to, "content": {"text": "hi"}, "from": SMS_FROM}
    )
    assert response.status_code == 400
    assert contexts(response) == {"$.to": 90001}


async def test_wrong_types_answer_400_with_a_path(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        json={"to": [{"address": 5, "channel": "PHONE"}], "content": {"text": "hi"}},
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["context"] == "$.to[0].address"
    assert error["code"] == 90001


async def test_malformed_json_and_missing_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 90001
    response = await client.post("/v1/Messages", json={"content": {"text": "hi"}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["context"] == "$.to"


async def test_template_syntax_error_points_at_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "Hello {{ name "},
            "from": SMS_FROM,
            "tags": {"campaign": "{% if %}"},
        },
    )
    assert response.status_code == 400
    assert set(contexts(response)) == {"$.content.text", "$.tags.campaign"}


async def test_documentation_numbers_and_lowercase_enums_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "phone"}],
            "content": {"text": "hi"},
            "from": {"address": "+15017122661", "channel": "sms"},
        },
    )
    assert response.status_code == 202, response.text


async def test_missing_sender_without_default_pool(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        json={"to": [{"address": "+15558675310", "channel": "PHONE"}], "content": {"text": "x"}},
    )
    assert response.status_code == 400
    assert contexts(response) == {"$.from": 21603}


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/Messages",
        content=b'{"to": [], "content": {"text": "' + b"x" * (9 * 1024 * 1024) + b'"}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == 90003


async def test_schedule_bounds(client: httpx.AsyncClient) -> None:
    base = {
        "to": [{"address": "+15558675310", "channel": "PHONE"}],
        "content": {"text": "x"},
        "from": SMS_FROM,
    }
    past = await client.post(
        "/v1/Messages", json={**base, "schedule": {"sendAt": ["2020-01-01T00:00:00Z"]}}
    )
    assert contexts(past) == {"$.schedule.sendAt[0]": 35114}
    far = await client.post(
        "/v1/Messages", json={**base, "schedule": {"sendAt": ["2099-01-01T00:00:00Z"]}}
    )
    assert contexts(far) == {"$.schedule.sendAt[0]": 35115}
    two = await client.post(
        "/v1/Messages",
        json={**base, "schedule": {"sendAt": ["2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z"]}},
    )
    assert contexts(two) == {"$.schedule.sendAt": 90001}
