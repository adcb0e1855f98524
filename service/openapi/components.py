"""Component schemas: msgspec's JSON Schema of the wire Structs (schemas/), with their
examples; titled enums as shared components, Structs of several forms as oneOfs, events as a
oneOf told apart by `type`."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Iterator, Mapping
from typing import Any, get_args

import msgspec

from schemas import (
    audiences,
    common,
    errors,
    events,
    health,
    messages,
    operations,
    profiles,
    senders,
    suppressions,
    webhooks,
)
from schemas.events import EVENT_TYPES, MessageCloudEvent, OperationCloudEvent
from service import error_codes
from service.error_codes import CATALOGUE, ErrorCode
from service.openapi import examples

REF = "#/components/schemas/{name}"
WIRE_MODULES = (
    audiences,
    common,
    errors,
    events,
    health,
    messages,
    operations,
    profiles,
    senders,
    suppressions,
    webhooks,
)

# The titled enums of the wire contracts (schemas/), each one component: what it is, and its
# values in their meaningful order (msgspec writes a Literal's sorted).
ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "RecipientChannel": (
        "How a recipient is reached: PHONE (SMS, or MMS with media), WHATSAPP or CONVERSATIONS.",
        get_args(messages.RecipientChannel),
    ),
    "SenderChannel": (
        "The channel a sender sends on: SMS, WHATSAPP or CONVERSATIONS.",
        get_args(messages.SenderChannel),
    ),
    "MessageStatus": (
        "A message's status. SCHEDULED < QUEUED < SENT < DELIVERED < READ; UNDELIVERED, "
        "FAILED and CANCELED end it. It never moves backwards.",
        get_args(messages.MessageStatus),
    ),
    "AttemptStatus": (
        "An attempt's status, as the provider reports it (QUEUED covers its accepted, queued "
        "and sending, and a provider call still under way).",
        messages.ATTEMPT_READ_STATUSES,
    ),
    "OperationStatus": (
        "An operation's status: SCHEDULED (nothing due yet), PROCESSING, COMPLETED (every "
        "message processed) or CANCELED.",
        get_args(operations.OperationStatus),
    ),
    "SenderKind": (
        "What kind of number or id a sender is; it sets the default rate.",
        get_args(senders.SenderKind),
    ),
    "SuppressionSource": (
        "How a recipient came to be suppressed.",
        get_args(suppressions.SuppressionSource),
    ),
    "ProfileImportStatus": (
        "Where a profile import stands: PROCESSING while rows wait, COMPLETED once every row "
        "was loaded or refused, FAILED when no row could be loaded.",
        get_args(profiles.ImportStatus),
    ),
    "ProfileImportFormat": ("What a profile import's body is.", get_args(profiles.ImportFormat)),
    "EventType": ("A CloudEvents type of the Comms API's events.", EVENT_TYPES),
    "DeliveryStatus": (
        "Where a webhook or statusCallback delivery stands.",
        get_args(webhooks.DeliveryStatus),
    ),
}

# Codes a message or an attempt records: those never answered over HTTP, and two that are
# also recorded when the problem shows only after the send was accepted (a number the provider
# refuses, a text too long once rendered for its recipient).
RECORDED_CODES: tuple[ErrorCode, ...] = (
    *(entry for entry in CATALOGUE.values() if entry.http_status is None),
    error_codes.INVALID_TO,
    error_codes.BODY_TOO_LONG,
)


def doc_link(code: int) -> str:
    """Where a code is explained: Twilio's page, or (ours) the service's error-code page."""
    if error_codes.is_ours(code):
        return error_codes.OWN_INFO_PATH.format(code=code)
    return error_codes.INFO_URL.format(code=code)


def wire_types() -> dict[str, type]:
    """The Structs and enums of the wire contracts, by name."""
    found: dict[str, type] = {}
    for module in WIRE_MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, msgspec.Struct | enum.Enum)
                and value.__module__ == module.__name__
            ):
                found[value.__name__] = value
    return found


def wire_schemas(made: Mapping[str, Any]) -> dict[str, Any]:
    """The component schemas: msgspec's, for every wire type Litestar's paths name, and the
    events the webhooks describe."""
    types = wire_types()
    unknown = sorted(set(made) - set(types))
    if unknown:
        raise ValueError(f"components that are no wire type of schemas/: {unknown}")
    wanted = [types[name] for name in sorted(made)]
    wanted += [errors.ErrorBody, OperationCloudEvent, MessageCloudEvent]
    _, schemas = msgspec.json.schema_components(wanted, ref_template=REF)
    wire_examples = _wire_examples()
    for name, schema in schemas.items():
        if "description" in schema:
            schema["description"] = inspect.cleandoc(schema["description"])
        for prop in schema.get("properties", {}).values():
            _lift_documentation(prop)
        _absent_not_null(types[name], schema)
        if types[name] in wire_examples:
            schema["examples"] = wire_examples[types[name]]
    schemas["ErrorDetail"]["properties"]["code"]["description"] = (
        "The error code (see `infoUrl`): one of these, or another code of the provider's.\n\n"
        + "\n".join(
            f"- [{e.code}]({doc_link(e.code)}) {e.summary}"
            for e in sorted(RECORDED_CODES, key=lambda e: e.code)
        )
    )
    _forms(schemas, messages.RecipientIn, messages.RECIPIENT_FORMS)
    _forms(schemas, messages.SenderIn, messages.SENDER_FORMS)
    schemas["CloudEvent"] = {
        "title": "CloudEvent",
        "description": "An event, CloudEvents 1.0 in JSON: an operation.* or a message.* event, "
        "told apart by `type`.",
        "oneOf": [
            {"$ref": REF.format(name=n)} for n in ("OperationCloudEvent", "MessageCloudEvent")
        ],
        "discriminator": {
            "propertyName": "type",
            "mapping": {t: REF.format(name=event_schema(t)) for t in EVENT_TYPES},
        },
        "examples": [
            msgspec.to_builtins(e)
            for e in (examples.MESSAGE_DELIVERED, examples.OPERATION_COMPLETED)
        ],
    }
    return schemas


def event_schema(event_type: str) -> str:
    return (
        "OperationCloudEvent" if event_type in events.OPERATION_EVENT_TYPES else "MessageCloudEvent"
    )


def _lift_documentation(prop: dict[str, Any]) -> None:
    """`X | None` whose X alone is documented (a shared alias): the property says it."""
    arms = [a for a in prop.get("anyOf", []) if a != {"type": "null"}]
    if len(arms) == 1:
        for key in ("description", "examples"):
            if key not in prop and key in arms[0]:
                prop[key] = arms[0].pop(key)


def _absent_not_null(kind: type, schema: dict[str, Any]) -> None:
    """A Struct that leaves out its fields at their default (omit_defaults) never writes a null
    for one defaulting to None: the field is optional, not nullable. (A null sent in its place
    is read as absent.)"""
    if not issubclass(kind, msgspec.Struct) or not kind.__struct_config__.omit_defaults:
        return
    for field_info in msgspec.structs.fields(kind):
        prop = schema.get("properties", {}).get(field_info.encode_name)
        if prop is None or field_info.default is not None:
            continue
        arms = [a for a in prop.get("anyOf", []) if a != {"type": "null"}]
        if len(arms) == 1 and prop.get("default", ...) is None:
            rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
            schema["properties"][field_info.encode_name] = {**arms[0], **rest}


def _wire_examples() -> dict[type, list[Any]]:
    """Each wire type's examples, as JSON: every one `examples.ALL` lists, else the first one
    nested in them (an enum's first value)."""
    found: dict[type, list[Any]] = {}
    for example in examples.ALL:
        found.setdefault(type(example), []).append(msgspec.to_builtins(example))
    for example in _walk_structs(examples.ALL):
        if type(example) not in found:
            found[type(example)] = [msgspec.to_builtins(example)]
    for kind in wire_types().values():
        if issubclass(kind, enum.Enum):
            found[kind] = [next(iter(kind)).value]
    return found


def _walk_structs(values: Any) -> Iterator[msgspec.Struct]:
    """Every Struct in values, depth first (each before the Structs it holds)."""
    pending = list(reversed(values)) if isinstance(values, list | tuple) else [values]
    while pending:
        value = pending.pop()
        if isinstance(value, msgspec.Struct):
            yield value
            pending.extend(reversed([getattr(value, f) for f in value.__struct_fields__]))
        elif isinstance(value, list | tuple):
            pending.extend(reversed(value))
        elif isinstance(value, dict):
            pending.extend(reversed(list(value.values())))


def _forms(schemas: dict[str, Any], kind: type, forms: Mapping[str, common.Form]) -> None:
    """A Struct decoded as one, documented as a oneOf of its forms: each requires its own
    fields and leaves out the other forms' ones."""
    name = kind.__name__
    whole = schemas[name]
    owned = {key for form in forms.values() for key in form.required}
    instances = [msgspec.to_builtins(s) for s in _walk_structs(examples.ALL) if type(s) is kind]
    variants = []
    for form_name, form in forms.items():
        properties = {
            key: _required(value) if key in form.required else value
            for key, value in whole["properties"].items()
            if key in form.required or (key not in owned and key not in form.excluded)
        }
        variant: dict[str, Any] = {
            "title": form_name,
            "description": form.description,
            "type": "object",
            "properties": properties,
            "required": list(form.required),
        }
        fitting = [e for e in instances if set(form.required) <= set(e) <= set(properties)]
        if fitting:
            variant["examples"] = fitting[:1]
        schemas[form_name] = variant
        variants.append({"$ref": REF.format(name=form_name)})
    schemas[name] = {
        "title": name,
        "description": whole.get("description", ""),
        "oneOf": variants,
        "examples": whole.get("examples", []),
    }


def _required(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A field's schema when its form requires it: no null, no default."""
    shaped = {k: v for k, v in schema.items() if k not in ("default", "anyOf")}
    arms = [a for a in schema.get("anyOf", []) if a != {"type": "null"}]
    if len(arms) == 1:
        shaped = {**arms[0], **shaped}
    return shaped


def hoist_enums(document: dict[str, Any]) -> None:
    """Every inline enum with a title becomes the component of that name, referenced."""
    schemas = document["components"]["schemas"]

    def hoist(node: Any, is_component: bool = False) -> Any:
        if isinstance(node, list):
            return [hoist(item) for item in node]
        if not isinstance(node, dict):
            return node
        if not is_component and "enum" in node and node.get("title") in ENUMS:
            name = node["title"]
            description, values = ENUMS[name]
            if set(node["enum"]) != set(values):
                raise ValueError(f"enum {name} is declared with other values: {node['enum']}")
            schemas[name] = {
                "title": name,
                "description": description,
                "type": "string",
                "enum": list(values),
                "examples": [values[0]],
            }
            rest = {k: v for k, v in node.items() if k not in ("title", "enum", "type")}
            return {"$ref": REF.format(name=name), **rest}
        return {k: v if k in ("examples", "example") else hoist(v) for k, v in node.items()}

    for name in list(schemas):
        schemas[name] = hoist(schemas[name], is_component=True)
    for key in ("paths", "webhooks"):
        if key in document:
            document[key] = hoist(document[key])
