"""The OpenAPI document: Litestar makes the paths from the route handlers, `complete` adds what
they cannot say.

- components.py: the component schemas are msgspec's own JSON Schema of the wire Structs
  (schemas/), which carries their docstrings and the descriptions, examples and
  document-only constraints (patterns, enums, limits) of their `Meta` that Litestar's generator
  leaves out. An enum with a title becomes one shared component; a Struct that takes several
  forms (`RECIPIENT_FORMS`, `SENDER_FORMS`) becomes a oneOf of them; the two kinds of event, a
  oneOf told apart by `type`.
- answers.py: each operation's answers (`ANSWERS`): the error codes it can answer, from the
  catalogue (service/error_codes.py), with those every route of its kind can answer
  (authentication, quota, outages; a body's size and read timeout), grouped by HTTP status
  with one example each; and the headers each answer carries.
- examples.py: an example for every schema, request body and answer, as instances of the
  wire Structs.
- webhooks.py: what a webhook endpoint and a statusCallback receive, and how it is signed.

The document is built once per app, when it is first asked for (`app.openapi_schema`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import msgspec
from litestar import Request
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, OpenAPI, SecurityScheme, Server, Tag

from service import request_ids
from service.openapi.answers import REQUEST_ID_PARAMETER, SHARED_HEADERS, complete_operation
from service.openapi.components import hoist_enums, wire_schemas
from service.openapi.webhooks import WEBHOOK_PARAMETERS, webhooks

DESCRIPTION = """\
Bulk messaging over SMS/MMS, WhatsApp and Twilio Conversations, mirroring Twilio's
Communications API: one request sends to up to 10,000 recipients; the answer (202) names the
operation, and workers send at each sender's rate, with retries, channel fallback, delivery
receipts and events.

**Authentication.** HTTP Basic on every `/v1` route: `AccountSid:AuthToken` or
`ApiKeySid:ApiKeySecret`. Another account's resources answer 404, as unknown ids do.

**Errors.** Every 4xx and 5xx answer is `{"errors": [{code, message, infoUrl, context}]}`,
listing every problem found (at most 100); `context` is the JSON path of the field. Codes are
Twilio's where one exists, else our own 9xxxx ones: [the error-code page](/docs/errors) lists
every code the service answers with or records on a message. 429 and 503 carry `Retry-After`.

**Identifiers** are lowercase TypeIDs (`comms_operation_…`, `comms_message_…`): a prefix and
26 Crockford base32 characters of a UUIDv7, so they sort by creation time.

**Lists** page with `pageSize` (1..1000, default 50) and `pageToken` (`pagination.next`),
newest first; pages stay stable while rows arrive.

**Timestamps** are RFC 3339 in UTC with milliseconds. Input enums match in any case.

Every route is served under `/v1` and, identically, under `/preview`.
"""

TAGS = [
    Tag(name="Messages", description="Send messages and read them back."),
    Tag(
        name="Operations",
        description="One send is one operation: follow its progress, its failures and its "
        "events, or cancel what is not yet sent.",
    ),
    Tag(
        name="Senders",
        description="(ext) The numbers and ids messages are sent from, their rates, and pools "
        "of them in priority order.",
    ),
    Tag(
        name="Audiences",
        description="Static lists of profiles, or filters on their attributes, that a send "
        "names as one recipient; the workers expand them, streaming.",
    ),
    Tag(
        name="Suppressions",
        description="(ext) Recipients who opted out of an account's messages (STOP).",
    ),
    Tag(
        name="Profiles",
        description="The people an account sends to: their addresses, attributes and time "
        "zone, kept one by one or imported in bulk.",
    ),
    Tag(
        name="Webhooks",
        description="(ext) Endpoints that receive events, and the delivery log of those and of "
        "statusCallbacks.",
    ),
    Tag(name="Health", description="Liveness, readiness and metrics (no authentication)."),
]


@dataclass
class CompletedOpenAPI(OpenAPI):
    """Litestar's OpenAPI object, written out completed (see the module docstring).

    Written out once: Litestar fills in the paths and components before anything asks, and
    makes a new object when it rebuilds. Callers must not change the dict they get.
    """

    def to_schema(self) -> dict[str, Any]:
        written: dict[str, Any] | None = self.__dict__.get("_written")
        if written is None:
            written = self.__dict__["_written"] = complete(super().to_schema())
        return written


class DocumentConfig(OpenAPIConfig):
    """OpenAPIConfig whose document is completed when written out."""

    def to_openapi_schema(self) -> OpenAPI:
        made = super().to_openapi_schema()
        return CompletedOpenAPI(**{f.name: getattr(made, f.name) for f in fields(made)})


class ServedDocument(JsonRenderPlugin):
    """GET /schema/openapi.json: the document, whose server is this deployment's public base URL
    (PUBLIC_BASE_URL); the committed copy says `/`, wherever it is served from."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, served(request, openapi_schema))


def served(request: Request[Any, Any, Any], document: dict[str, Any]) -> dict[str, Any]:
    base_url: str = request.app.state.comms.base_url
    server = {"url": base_url, "description": "This deployment (its public base URL)."}
    return {**document, "servers": [server]}


def config() -> DocumentConfig:
    return DocumentConfig(
        title="comms",
        version="1.0.0",
        description=DESCRIPTION,
        servers=[
            Server(
                url="/",
                description="Where this document is served from (GET /schema/openapi.json "
                "names the deployment's public base URL).",
            )
        ],
        tags=TAGS,
        components=Components(
            security_schemes={
                "basicAuth": SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="AccountSid:AuthToken or ApiKeySid:ApiKeySecret",
                )
            }
        ),
        path="/schema",
        render_plugins=[ServedDocument()],
        use_handler_docstrings=False,
        create_examples=False,
    )


def complete(made: dict[str, Any]) -> dict[str, Any]:
    """Litestar's document (`to_schema()`), completed."""
    document: dict[str, Any] = msgspec.to_builtins(made)
    components = document.setdefault("components", {})
    schemas = wire_schemas(components.get("schemas", {}))
    components["schemas"] = schemas
    components["headers"] = {name: h.declared() for name, h in SHARED_HEADERS.items()}
    components["parameters"] = {**WEBHOOK_PARAMETERS, request_ids.HEADER: REQUEST_ID_PARAMETER}
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                complete_operation(operation, schemas)
    document["webhooks"] = webhooks()
    hoist_enums(document)
    components["schemas"] = dict(sorted(schemas.items()))
    return document
