"""The CLI's calls to a running API (`comms send`, `comms status`): what any client would do,
over HTTP with Basic auth, so they work against any deployment, not only a local database."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# Operation statuses after which nothing new is started (API: Operations).
FINAL_STATUSES = ("COMPLETED", "CANCELED")
# Message statuses still waiting: in our queue, or handed over and not yet sent by the provider.
WAITING = ("scheduled", "queued")
FAILED = ("failed", "undelivered")
STAT_NAMES = (
    "total",
    "queued",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
    "scheduled",
)


class ApiCallFailed(Exception):
    """The API answered with an error (its codes and messages), or could not be reached."""


class ApiTarget(msgspec.Struct, frozen=True):
    """Where the API is and whom to call it as (an account or an API key)."""

    base_url: str
    username: str
    password: str

    def client(self, timeout_s: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url.rstrip("/"),
            auth=(self.username, self.password),
            timeout=timeout_s,
        )


def _answer(response: httpx.Response) -> dict[str, Any]:
    if response.is_success:
        body: dict[str, Any] = response.json()
        return body
    try:
        errors = response.json().get("errors") or []
        problems = "; ".join(
            f"{e.get('code')} {e.get('message')}"
            + (f" (at {e['context']})" if e.get("context") else "")
            for e in errors
        )
    except (ValueError, AttributeError):
        problems = response.text[:200]
    raise ApiCallFailed(f"the API answered {response.status_code}: {problems}")


def _call(client: httpx.Client, method: str, path: str, **options: Any) -> dict[str, Any]:
    try:
        response = client.request(method, path, **options)
    except httpx.HTTPError as exc:
        raise ApiCallFailed(f"cannot reach the API at {client.base_url}: {exc}") from None
    return _answer(response)


def send_text(
    client: httpx.Client,
    *,
    to: list[str],
    text: str,
    sender: str | None,
    channel: str,
    idempotency_key: str | None = None,
) -> str:
    """POST /v1/Messages for one text to these recipients; the operation id."""
    whatsapp = channel == "whatsapp"
    body: dict[str, Any] = {
        "to": [{"address": a, "channel": "WHATSAPP" if whatsapp else "PHONE"} for a in to],
        "content": {"text": text},
    }
    if sender is not None:
        body["from"] = {"address": sender, "channel": "WHATSAPP" if whatsapp else "SMS"}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    answer = _call(client, "POST", "/v1/Messages", json=body, headers=headers)
    operation_id: str = answer["operationId"]
    return operation_id


def fetch_operation(client: httpx.Client, operation_id: str) -> dict[str, Any]:
    return _call(client, "GET", f"/v1/Messages/Operations/{operation_id}")


def is_done(operation: dict[str, Any]) -> bool:
    """Nothing more will happen before receipts: the operation is COMPLETED or CANCELED and
    no message waits, in our queue or the provider's."""
    stats = operation["stats"]
    return operation["status"] in FINAL_STATUSES and not any(stats[s] for s in WAITING)


def settled(stats: dict[str, Any]) -> int:
    """Messages no longer waiting (sent, delivered, read, or ended)."""
    return int(stats["total"]) - sum(int(stats[s]) for s in WAITING)


def follow(
    client: httpx.Client,
    operation_id: str,
    console: Console,
    *,
    interval_s: float,
    timeout_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any] | None:
    """Poll the operation with a progress bar until it is done (is_done); the last state, or
    None when timeout_s passed first."""
    deadline = clock() + timeout_s
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(operation_id, total=None, status="")
        while True:
            operation = fetch_operation(client, operation_id)
            stats = operation["stats"]
            progress.update(
                task, total=stats["total"], completed=settled(stats), status=operation["status"]
            )
            if is_done(operation):
                return operation
            if clock() >= deadline:
                return None
            sleep(interval_s)


def describe(operation: dict[str, Any]) -> str:
    """An operation as lines of text: id, status, times, the counts that are not zero."""
    stats = operation["stats"]
    counts = ", ".join(f"{name} {stats[name]}" for name in STAT_NAMES if stats.get(name))
    lines = [
        f"operation  {operation['id']}",
        f"status     {operation['status']}",
        f"messages   {counts or 'none'}",
        f"created    {operation['createdAt']}",
        f"updated    {operation['updatedAt']}",
    ]
    if operation.get("tags"):
        tags = ", ".join(f"{k}={v}" for k, v in sorted(operation["tags"].items()))
        lines.append(f"tags       {tags}")
    return "\n".join(lines)


def failed_count(operation: dict[str, Any]) -> int:
    stats = operation["stats"]
    return sum(int(stats[s]) for s in FAILED)
