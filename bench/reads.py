"""Reads under load (wrk, 16 connections), each beside a bare `GET /healthz` of the same API
process measured just before it:

1. `GET /v1/Messages/Operations/{id}` of a 10-message and a 10,000-message operation (and of a
   send to an audience of 100,000 profiles, when the API takes `{"audienceId"}` recipients).
2. `GET /v1/Messages?pageSize=50` filtered by operationId (the 10,000-message operation), by
   status (DELIVERED), by tags (campaign:c1), and unfiltered: page 1, and page 200 (its URL
   found by following `pagination.next` 199 times).

The account holds the preloaded messages (bench/preload.py; 100,000 by default) plus these
operations, sent through the API and scheduled 30 days ahead (stored, never due, so nothing
changes while wrk reads).

    uv run python bench/reads.py [--messages 100000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.parse
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import preload, sends, wrk
from bench.report import PAIRED_HEADER, Report, Section, paired_row
from bench.sends import AUDIENCE_FAILURES
from bench.stack import BenchStack, bench_stack
from service.accounts.logic import NewCredentials

NO_RATE_LIMIT = {"API_REQUESTS_PER_SECOND": "0"}
PAGE = 200


async def _setup(stack: BenchStack) -> tuple[dict[str, str], str | None, bool]:
    """The measured operations: {label: operation id}; the audience note; audiences offered."""
    async with httpx.AsyncClient(base_url=stack.api, auth=stack.auth, timeout=600) as http:
        operations = {
            "10 messages": await sends.send(http, sends.scheduled_body(10, seed=1)),
            "10,000 messages": await sends.send(http, sends.scheduled_body(10_000, seed=2)),
        }
        supported = await sends.audiences_supported(http)
        note = None
        if supported:
            try:
                audience = await sends.audience_of(http, 100_000)
                body = sends.audience_body(audience, scheduled=True)
                operations["audience of 100,000"] = await sends.send(http, body)
            except AUDIENCE_FAILURES as exc:
                note = f"audience of 100,000: not measured: {exc}"
        else:
            note = f"audience of 100,000: {sends.NOT_SUPPORTED}"
        return operations, note, supported


async def _page_url(stack: BenchStack, query: dict[str, str], page: int) -> str:
    """The URL of page `page` (1-based) of the list with `query`, by following `next`."""
    params = {"pageSize": "50", **query}
    async with httpx.AsyncClient(base_url=stack.api, auth=stack.auth, timeout=60) as http:
        for _ in range(page - 1):
            answer = await http.get("/v1/Messages", params=params)
            answer.raise_for_status()
            token = answer.json()["pagination"]["next"]
            if token is None:
                raise RuntimeError(f"the list {query} has fewer than {page} pages")
            params["pageToken"] = token
    return f"{stack.api}/v1/Messages?{urllib.parse.urlencode(params)}"


def measure(
    template: str, account: NewCredentials, *, scale: str, seconds: int = wrk.SECONDS
) -> Report:
    report = Report()
    with bench_stack("bench_reads", template=template, account=account, env=NO_RATE_LIMIT) as stack:
        operations, note, _ = asyncio.run(_setup(stack))
        stats = Section(
            f"1. Operation stats: GET /v1/Messages/Operations/{{id}} ({scale} messages preloaded)",
            PAIRED_HEADER,
        )
        for label, operation_id in operations.items():
            url = f"{stack.api}/v1/Messages/Operations/{operation_id}"
            result = wrk.paired(stack.api, url, auth=stack.auth, seconds=seconds)
            stats.rows.append(paired_row(f"operation of {label}", result))
            report.paired_figures(f"operation of {label}", result)
        if note:
            stats.notes.append(note)
        report.sections.append(stats)

        lists = Section(
            f"2. Message lists: GET /v1/Messages?pageSize=50 ({scale} messages preloaded)",
            PAIRED_HEADER,
        )
        filters = {
            "operationId (10,000-message operation)": {
                "operationId": operations["10,000 messages"]
            },
            "status=DELIVERED": {"status": "DELIVERED"},
            "tags=campaign:c1;": {"tags": "campaign:c1;"},
            "unfiltered": {},
        }
        for label, query in filters.items():
            for page in (1, PAGE):
                url = asyncio.run(_page_url(stack, query, page))
                result = wrk.paired(stack.api, url, auth=stack.auth, seconds=seconds)
                name = f"{label}, page {page}"
                lists.rows.append(paired_row(name, result))
                report.paired_figures(f"list {name}", result)
        lists.notes.append(
            f"page {PAGE}: the URL reached by following `pagination.next` {PAGE - 1} times"
        )
        report.sections.append(lists)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=wrk.SECONDS)
    args = parser.parse_args()
    with preload.preloaded(args.messages) as (template, account):
        measure(template, account, scale=f"{args.messages:,}", seconds=args.seconds).print()


if __name__ == "__main__":
    main()
