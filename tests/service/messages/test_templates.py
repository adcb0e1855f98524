"""Liquid in message text and tag values: rendered per recipient, checked when the send arrives."""

from __future__ import annotations

import httpx
import pytest

from service.messages import templates
from service.settings import Settings
from tests.support.workers import run_worker

SMS_FROM = {"address": "+15017122661", "channel": "SMS"}


def test_variables_default_and_missing_variables() -> None:
    text = "Hi {{ name }}, {{ city | default: 'nowhere' }}{{ missing }}!"
    assert templates.render(text, {"name": "Ada", "city": "Paris"}) == "Hi Ada, Paris!"
    assert templates.render(text, {"name": "Bo"}) == "Hi Bo, nowhere!"
    assert templates.render(text, None) == "Hi , nowhere!"


def test_plain_text_is_not_parsed() -> None:
    assert not templates.is_template("50% off {not liquid}")
    assert templates.render("50% off {not liquid}", {"x": "y"}) == "50% off {not liquid}"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Hi {{ name", "expected '}}'"),
        ("{% if %}yes{% endif %}", "line 1, column"),
        ("Hi {{ name | shout }}", "unknown filter 'shout'"),
        ('{% include "header" %}', "unexpected tag 'include'"),
        ('{% render "header" %}', "unexpected tag 'render'"),
    ],
)
def test_what_cannot_render_is_refused_when_compiled(text: str, fragment: str) -> None:
    with pytest.raises(templates.TemplateSyntaxError) as raised:
        templates.compile_template(text)
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def test_render_errors_and_runaway_loops_raise_render_errors() -> None:
    with pytest.raises(templates.TemplateRenderError, match="divide by 0"):
        templates.render("{{ 10 | divided_by: n }}", {"n": "0"})
    with pytest.raises(templates.TemplateRenderError, match="limit"):
        templates.render("{% for i in (1..1000000) %}x{% endfor %}", {})


async def test_syntax_errors_answer_400_with_the_path_of_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [{"address": "+15558675310", "channel": "PHONE"}],
            "content": {"text": "Hello {{ name "},
            "from": SMS_FROM,
            "tags": {"campaign": "{% if x %}open", "ok": "{{ name }}", "bad": "{{ x | nope }}"},
        },
    )
    assert response.status_code == 400, response.text
    errors = {e["context"]: e for e in response.json()["errors"]}
    assert set(errors) == {"$.content.text", "$.tags.campaign", "$.tags.bad"}
    for error in errors.values():
        assert error["code"] == 90001
        assert error["message"].startswith("template syntax error: ")
    assert "unknown filter 'nope'" in errors["$.tags.bad"]["message"]


@pytest.mark.own_stack
async def test_text_and_tags_are_rendered_per_recipient(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {
                    "address": "+15558675310",
                    "channel": "PHONE",
                    "variables": {"name": "Ada", "tier": "gold"},
                },
                {"address": "+15558675311", "channel": "PHONE", "variables": {"name": "Bo"}},
                {"address": "+15558675312", "channel": "PHONE"},
            ],
            "content": {"text": "Hi {{ name | default: 'friend' }}{{ missing }}, {{ tier }}."},
            "from": SMS_FROM,
            "tags": {"campaign": "spring", "tier": "{{ tier | default: 'basic' | upcase }}"},
        },
    )
    assert response.status_code == 202, response.text
    operation_id = response.json()["operationId"]
    listed = await client.get("/v1/Messages", params={"operationId": operation_id})
    before = {m["to"][0]["address"]: m for m in listed.json()["messages"]}
    # Not rendered yet: the operation's tags as given.
    assert before["+15558675310"]["tags"]["tier"] == "{{ tier | default: 'basic' | upcase }}"

    await run_worker(settings)
    await sandbox.post("/sandbox/drain")

    listed = await client.get("/v1/Messages", params={"operationId": operation_id})
    messages = {m["to"][0]["address"]: m for m in listed.json()["messages"]}
    expected = {
        "+15558675310": ("Hi Ada, gold.", "GOLD"),
        "+15558675311": ("Hi Bo, .", "BASIC"),
        "+15558675312": ("Hi friend, .", "BASIC"),
    }
    for address, (text, tier) in expected.items():
        assert messages[address]["tags"] == {"campaign": "spring", "tier": tier}
        detail = (await client.get(f"/v1/Messages/{messages[address]['id']}")).json()
        assert detail["status"] == "DELIVERED"
        assert detail["content"] == {"text": text}
        assert detail["tags"] == {"campaign": "spring", "tier": tier}
    # Tag filters see the rendered values.
    gold = await client.get(
        "/v1/Messages", params={"operationId": operation_id, "tags": "tier:GOLD;"}
    )
    assert [m["to"][0]["address"] for m in gold.json()["messages"]] == ["+15558675310"]
    sent = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert sorted(m["body"] for m in sent) == sorted(text for text, _ in expected.values())


@pytest.mark.own_stack
async def test_rendered_text_over_1600_fails_only_that_message(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"address": "+15558675310", "channel": "PHONE", "variables": {"note": "short"}},
                {"address": "+15558675311", "channel": "PHONE", "variables": {"note": "x" * 1595}},
            ],
            # 1,600 characters of template source is allowed; what counts is the rendered text.
            "content": {"text": "Note: {{ note }}"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 202, response.text
    location = response.json()["operationLocation"]
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")

    operation = (await client.get(location)).json()
    assert operation["status"] == "COMPLETED"
    stats = operation["stats"]
    assert (stats["total"], stats["delivered"], stats["failed"], stats["attempts"]) == (2, 1, 1, 1)
    listed = await client.get(
        "/v1/Messages", params={"operationId": response.json()["operationId"]}
    )
    messages = {m["to"][0]["address"]: m for m in listed.json()["messages"]}
    assert messages["+15558675310"]["status"] == "DELIVERED"
    assert messages["+15558675311"]["status"] == "FAILED"
    errors = await client.get(f"{location}/Errors")
    assert errors.status_code == 200
    [error] = errors.json()["errors"]
    assert error["to"][0]["address"] == "+15558675311"
    assert error["error"]["code"] == 21617
    sent = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert [m["body"] for m in sent] == ["Note: short"]


@pytest.mark.own_stack
async def test_a_render_error_fails_only_that_message(
    client: httpx.AsyncClient, sandbox: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/v1/Messages",
        json={
            "to": [
                {"address": "+15558675310", "channel": "PHONE", "variables": {"n": "2"}},
                {"address": "+15558675311", "channel": "PHONE", "variables": {"n": "0"}},
            ],
            "content": {"text": "Half: {{ 10 | divided_by: n }}"},
            "from": SMS_FROM,
        },
    )
    assert response.status_code == 202, response.text
    location = response.json()["operationLocation"]
    await run_worker(settings)
    await sandbox.post("/sandbox/drain")

    operation = (await client.get(location)).json()
    assert operation["status"] == "COMPLETED"
    assert (operation["stats"]["delivered"], operation["stats"]["failed"]) == (1, 1)
    [error] = (await client.get(f"{location}/Errors")).json()["errors"]
    assert error["to"][0]["address"] == "+15558675311"
    assert error["error"]["code"] == 90004
    assert "divide by 0" in error["error"]["message"]
    sent = (await sandbox.get("/sandbox/messages")).json()["messages"]
    assert [m["body"] for m in sent] == ["Half: 5"]
