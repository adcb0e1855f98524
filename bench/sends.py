"""Sends made through the public API for the benchmarks (never by writing rows): scheduled ones
(stored, nothing due), real ones (a registered sender fast enough to send them at once), and an
audience of profiles when this API offers audiences (detected from its OpenAPI document)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

SENDER = "+15017122661"
FAST_SENDER = "+15017130001"
FAR_AHEAD_S = 30 * 86400  # within the 35 days a schedule may reach
TERMINAL = ("delivered", "read", "undelivered", "failed", "canceled")


def recipients(count: int, seed: int = 0) -> list[dict[str, str]]:
    # +1555 numbers of 7 digits after the area code; `seed` keeps runs apart.
    return [
        {"address": f"+1555{seed % 1000:03d}{n % 10_000:04d}", "channel": "PHONE"}
        for n in range(count)
    ]


def far_ahead() -> dict[str, list[str]]:
    return {"sendAt": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + FAR_AHEAD_S))]}


def scheduled_body(count: int, seed: int = 0, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A send of `count` recipients scheduled 30 days ahead: accepted and stored, never due."""
    return {
        "to": recipients(count, seed),
        "content": {"text": "benchmark"},
        "from": {"address": SENDER, "channel": "SMS"},
        "schedule": far_ahead(),
        "tags": tags or {"campaign": "bench"},
    }


async def send(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    answer = await http.post("/v1/Messages", json=body)
    if answer.status_code != 202:
        raise RuntimeError(f"send refused: {answer.status_code} {answer.text[:500]}")
    operation_id: str = answer.json()["operationId"]
    return operation_id


async def register_fast_sender(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/v1/Senders", json={"address": FAST_SENDER, "channel": "SMS", "mps": 10_000}
    )
    if answer.status_code not in (200, 201, 409):
        raise RuntimeError(f"sender refused: {answer.status_code} {answer.text[:500]}")


async def wait_settled(
    http: httpx.AsyncClient, operation_id: str, timeout_s: float, quiet_s: float = 10.0
) -> float:
    """Seconds until the operation is COMPLETED (every message handed to the provider) and
    every message is terminal, or its stats have not changed for `quiet_s` (a status callback
    the sandbox gave up on leaves its message SENT)."""
    started = time.monotonic()
    last: dict[str, Any] | None = None
    changed = started
    while True:
        answer = await http.get(f"/v1/Messages/Operations/{operation_id}")
        answer.raise_for_status()
        operation = answer.json()
        stats = operation["stats"]
        now = time.monotonic()
        if stats != last:
            last, changed = stats, now
        finished = operation["status"] in ("COMPLETED", "CANCELED")
        settled = sum(stats.get(k, 0) for k in TERMINAL) >= stats["total"] > 0
        if finished and (settled or now - changed > quiet_s):
            return changed - started
        if now - started > timeout_s:
            raise TimeoutError(
                f"operation {operation_id} not settled after {timeout_s:.0f} s: "
                f"{operation['status']} {json.dumps(stats)}"
            )
        await asyncio.sleep(0.5)


async def send_for_real(
    http: httpx.AsyncClient, count: int, seed: int, timeout_s: float = 600
) -> tuple[str, float]:
    """A send of `count` recipients from the fast sender, handed to the sandbox at once; the
    operation id and the seconds until its stats last changed (see wait_settled)."""
    await register_fast_sender(http)
    started = time.monotonic()
    operation_id = await send(
        http,
        {
            "to": recipients(count, seed),
            "content": {"text": "benchmark"},
            "from": {"address": FAST_SENDER, "channel": "SMS"},
        },
    )
    accepted = time.monotonic() - started
    return operation_id, accepted + await wait_settled(http, operation_id, timeout_s)


# Audiences -------------------------------------------------------------------------------


def _refs(document: dict[str, Any], node: Any, seen: set[str]) -> bool:
    """Whether `audienceId` is a property anywhere under `node` (following $refs)."""
    if isinstance(node, dict):
        if "audienceId" in node.get("properties", {}):
            return True
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            target: Any = document
            for part in ref.removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            if _refs(document, target, seen):
                return True
        return any(_refs(document, value, seen) for value in node.values())
    if isinstance(node, list):
        return any(_refs(document, value, seen) for value in node)
    return False


async def audiences_supported(http: httpx.AsyncClient) -> bool:
    """Whether POST /v1/Messages takes `{"audienceId"}` recipients, by the API's own OpenAPI
    document (the request body schema of the send)."""
    answer = await http.get("/schema/openapi.json")
    answer.raise_for_status()
    document = answer.json()
    send_op = document.get("paths", {}).get("/v1/Messages", {}).get("post", {})
    return _refs(document, send_op.get("requestBody", {}), set())


NOT_SUPPORTED = "not measured: audiences not supported"
# What an audience send that goes wrong raises: its figure is then "not measured: <why>".
AUDIENCE_FAILURES = (RuntimeError, TimeoutError, httpx.HTTPError, KeyError, ValueError, TypeError)


async def audience_of(http: httpx.AsyncClient, size: int, timeout_s: float = 900) -> str:
    """An audience of `size` new profiles (a profile import of NDJSON, then an audience
    selecting them by an attribute), as the public contract describes them; its id."""
    marker = f"bench{int(time.time())}"
    lines = "\n".join(
        json.dumps(
            {
                "externalId": f"{marker}-{n}",
                "addresses": [
                    {"address": f"+1556{n // 10_000:03d}{n % 10_000:04d}", "channel": "PHONE"}
                ],
                "attributes": {"cohort": marker},
            }
        )
        for n in range(size)
    )
    answer = await http.post(
        "/v1/Profiles/Import",
        content=lines.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    if answer.status_code not in (200, 201, 202):
        raise RuntimeError(f"profile import refused: {answer.status_code} {answer.text[:500]}")
    created = await http.post(
        "/v1/Audiences",
        json={"displayName": marker, "filter": {"attributes.cohort": marker}},
    )
    if created.status_code not in (200, 201):
        raise RuntimeError(f"audience refused: {created.status_code} {created.text[:500]}")
    audience = created.json()
    audience_id: str = audience["id"]
    # The import runs in a worker: wait until the audience holds every profile.
    deadline = time.monotonic() + timeout_s
    while audience.get("size", 0) < size:
        if time.monotonic() > deadline:
            raise TimeoutError(f"audience has {audience.get('size')} of {size} profiles")
        await asyncio.sleep(2)
        answer = await http.get(f"/v1/Audiences/{audience_id}")
        answer.raise_for_status()
        audience = answer.json()
    return audience_id


def audience_body(audience_id: str, *, scheduled: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "to": [{"audienceId": audience_id}],
        "content": {"text": "benchmark"},
        "from": {"address": SENDER if scheduled else FAST_SENDER, "channel": "SMS"},
    }
    if scheduled:
        body["schedule"] = far_ahead()
    return body
