"""The error-code page (GET /docs/errors): every code of the catalogue, one anchor each.

An error body's `infoUrl` for a code of our own points at its anchor here; Twilio's codes link
to Twilio's pages. The operations that answer each code come from the OpenAPI document
(`x-error-codes`), so the page and the document never disagree.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.error_codes import INFO_URL, ErrorCode

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2rem; }
th, td { border-bottom: 1px solid #ddd; padding: .45rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; }
tr:target { background: #fff6d5; }
code { font-size: .95em; }
.ops a { display: inline-block; margin-right: .6rem; }
"""


@dataclass
class Answered:
    """Where the document says a code is answered: its HTTP statuses and operations."""

    statuses: set[int] = field(default_factory=set)
    operations: set[str] = field(default_factory=set)


def answered_codes(document: Mapping[str, Any]) -> dict[int, Answered]:
    """Each error code the document's operations answer, from their error answers' examples
    (one per code, keyed by it)."""
    found: dict[int, Answered] = {}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            for status, response in operation.get("responses", {}).items():
                if not status.startswith(("4", "5")):
                    continue
                for media in (response.get("content") or {}).values():
                    for key in media.get("examples", {}):
                        if key.isdigit():
                            answered = found.setdefault(int(key), Answered())
                            answered.statuses.add(int(status))
                            answered.operations.add(operation["operationId"])
    return found


def render_error_page(catalogue: Iterable[ErrorCode], answered: Mapping[int, Answered]) -> str:
    entries = list(catalogue)
    answers = [e for e in entries if e.http_status is not None]
    recorded = [e for e in entries if e.http_status is None]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>comms: error codes</title>",
            "<link rel='icon' href='data:,'>",
            f"<style>{_STYLE}</style></head><body>",
            "<h1>Error codes</h1>",
            '<p>Every 4xx and 5xx answer carries <code>{"errors": [{code, message, infoUrl, '
            "context}]}</code>, with every problem found. Codes are Twilio's where one exists "
            "(they link to Twilio's documentation) and our own 9xxxx ones where none does "
            "(their <code>infoUrl</code> links here). The same codes are recorded on messages "
            "and attempts that fail after the send was accepted. "
            '<a href="/docs">The API reference</a>.</p>',
            "<h2>Answers of the API</h2>",
            _table(answers, answered, with_status=True),
            "<h2>Recorded on messages and attempts</h2>",
            "<p>These never answer a request: they are a message's or an attempt's "
            "<code>error.code</code>, the <code>error_code</code> of its events, and the "
            "<code>counts</code> of an operation's errors. Codes the API answers with (21211, "
            "21617 …) are recorded too when the problem shows only later (a number the "
            "provider refuses, a text too long once rendered).</p>",
            _table(recorded, answered, with_status=False),
            "</body></html>",
        ]
    )


def _table(entries: list[ErrorCode], answered: Mapping[int, Answered], *, with_status: bool) -> str:
    head = ["Code", "HTTP status" if with_status else None, "Meaning"]
    if with_status:
        head.append("Answered by")
    rows = ["<table><thead><tr>"]
    rows += [f"<th>{h}</th>" for h in head if h is not None]
    rows.append("</tr></thead><tbody>")
    for entry in entries:
        code = str(entry.code)
        link = (
            f'<a href="#{code}">{code}</a>'
            if entry.ours
            else f'<a href="{html.escape(INFO_URL.format(code=code))}">{code}</a>'
        )
        where = answered.get(entry.code, Answered())
        cells = [f"<td><code>{link}</code>{' (ours)' if entry.ours else ''}</td>"]
        if with_status:
            statuses = sorted(where.statuses | {entry.http_status or 0})
            cells.append(f"<td>{', '.join(str(s) for s in statuses)}</td>")
        message = " ".join(entry.message.split())
        said = "" if message == entry.summary else f"<br><small>“{html.escape(message)}”</small>"
        cells.append(f"<td>{html.escape(entry.summary)}{said}</td>")
        if with_status:
            cells.append(
                '<td class="ops">'
                + "".join(
                    f'<a href="/docs#operation/{op}">{op}</a>' for op in sorted(where.operations)
                )
                + "</td>"
            )
        rows.append(f'<tr id="{code}">' + "".join(cells) + "</tr>")
    rows.append("</tbody></table>")
    return "".join(rows)
