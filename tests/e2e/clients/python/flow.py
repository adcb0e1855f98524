"""A product team's code on the Python client generated from openapi/openapi.json
(openapi-python-client): send, follow the operation to COMPLETED, page through its messages,
handle a 404, replay an idempotent send.

tests/e2e/test_generated_client.py generates `comms_client`, type-checks this file with
`mypy --strict` and runs it against the real stack; it prints what it saw as one JSON line.
Run by hand: COMMS_URL=… COMMS_ACCOUNT_SID=… COMMS_AUTH_TOKEN=… python flow.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from typing import TypeVar

from comms_client import AuthenticatedClient
from comms_client.api.messages import fetch_message, list_messages, send_messages
from comms_client.api.operations import fetch_operation
from comms_client.models import (
    ContentIn,
    ErrorBody,
    MessageStatus,
    OperationStatus,
    RecipientAddress,
    RecipientAddresses,
    RecipientAddressVariables,
    RecipientAudience,
    RecipientChannel,
    RecipientProfile,
    SenderAddress,
    SenderChannel,
    SendMessagesRequest,
)
from comms_client.types import UNSET, Response, Unset

T = TypeVar("T")


class CommsError(Exception):
    """An error answer of the API, with its error body."""

    def __init__(self, status: int, body: ErrorBody | None) -> None:
        super().__init__(f"{status}: {body.errors[0].message if body else 'no body'}")
        self.status = status
        self.body = body


def ok(response: Response[T | ErrorBody]) -> T:
    """The answer's body, or CommsError for an error answer."""
    if response.parsed is None or isinstance(response.parsed, ErrorBody):
        raise CommsError(response.status_code, response.parsed)
    return response.parsed


def connect() -> AuthenticatedClient:
    credentials = f"{os.environ['COMMS_ACCOUNT_SID']}:{os.environ['COMMS_AUTH_TOKEN']}"
    return AuthenticatedClient(
        base_url=os.environ["COMMS_URL"],
        token=base64.b64encode(credentials.encode()).decode(),
        prefix="Basic",
    )


def welcome(names: dict[str, str]) -> SendMessagesRequest:
    recipients: list[
        RecipientAddress | RecipientAddresses | RecipientAudience | RecipientProfile
    ] = []
    for number, name in names.items():
        variables = RecipientAddressVariables.from_dict({"name": name})
        recipients.append(
            RecipientAddress(address=number, channel=RecipientChannel.PHONE, variables=variables)
        )
    return SendMessagesRequest(
        to=recipients,
        content=ContentIn(text="Hello {{ name }}, welcome aboard!"),
        from_=SenderAddress(address="+15017122661", channel=SenderChannel.SMS),
    )


async def main() -> dict[str, object]:
    seen: dict[str, object] = {}
    async with connect() as client:
        # Send to three people.
        body = welcome({"+15558675310": "Ada", "+15558675311": "Grace", "+15558675312": "Alan"})
        accepted = ok(await send_messages.asyncio_detailed(client=client, body=body))
        seen["operationId"] = accepted.operation_id

        # Follow the operation until every message is handed to the provider.
        deadline = time.monotonic() + 60
        while True:
            operation = ok(
                await fetch_operation.asyncio_detailed(accepted.operation_id, client=client)
            )
            if operation.status == OperationStatus.COMPLETED:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"operation still {operation.status.value}")
            await asyncio.sleep(0.2)
        seen["total"] = operation.stats.total

        # Page through its messages, two at a time.
        messages: list[str] = []
        statuses: set[MessageStatus] = set()
        page_token: str | Unset = UNSET
        pages = 0
        while True:
            page = ok(
                await list_messages.asyncio_detailed(
                    client=client,
                    operation_id=accepted.operation_id,
                    page_size=2,
                    page_token=page_token,
                )
            )
            pages += 1
            messages += [message.id for message in page.messages]
            statuses |= {message.status for message in page.messages}
            if page.pagination.next_ is None:
                break
            page_token = page.pagination.next_
        seen["messages"], seen["pages"] = len(messages), pages
        seen["statuses"] = sorted(status.value for status in statuses)

        # One of them in full: its rendered text.
        first = ok(await fetch_message.asyncio_detailed(messages[0], client=client))
        seen["text"] = first.content.text if first.content else None

        # A message that does not exist: a 404 with the error body.
        try:
            ok(
                await fetch_message.asyncio_detailed(
                    "comms_message_01m8h0jzqtf5v9w3b8m2n6k4x1", client=client
                )
            )
        except CommsError as missing:
            seen["notFound"] = [missing.status, missing.body.errors[0].code if missing.body else 0]

        # The same send twice with one Idempotency-Key: the second replays the first.
        key = f"welcome-{uuid.uuid4()}"
        once = await send_messages.asyncio_detailed(client=client, body=body, idempotency_key=key)
        again = await send_messages.asyncio_detailed(client=client, body=body, idempotency_key=key)
        seen["replayed"] = again.headers.get("Idempotent-Replayed") == "true"
        seen["sameOperation"] = ok(once).operation_id == ok(again).operation_id
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
