"""Liquid templates in message text, media URLs and tag values, rendered per recipient."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from liquid import Environment
from liquid.exceptions import LiquidError
from liquid.template import BoundTemplate

# Tags that read other templates: there are none to read, so they are refused when parsing
# rather than failing every recipient when rendering.
_REFUSED_TAGS = ("include", "render")


class _MessageEnvironment(Environment):
    """Liquid with bounds: a template is rendered once per recipient, 10,000 times a send."""

    # Well above what a 1,600-character message needs; a runaway loop stops here instead of
    # holding a worker (or a dry run) for seconds.
    loop_iteration_limit = 10_000
    output_stream_limit = 64 * 1024
    local_namespace_limit = 64 * 1024


# Missing variables render empty (Liquid's default Undefined), unless a `default` filter is used.
_env = _MessageEnvironment()
for _tag in _REFUSED_TAGS:
    _env.tags.pop(_tag, None)


class TemplateSyntaxError(Exception):
    """The template cannot be parsed, or uses a filter or tag that does not exist."""


class TemplateRenderError(Exception):
    """The template parsed but failed for this recipient's variables (e.g. divided_by: 0)."""


# Twilio's profile placeholders, `${Twilio.Profile.firstName}`: aliases of
# `{{ profile.attributes.firstName }}`.
_PROFILE_PLACEHOLDER = re.compile(r"\$\{\s*Twilio\.Profile\.([A-Za-z0-9_-]+)\s*\}")
# Variables whose names start with this are a profile's (service/audiences/expansion.py writes
# them flat, `profile.attributes.firstName`); templates read them nested, as
# `{{ profile.attributes.firstName }}`.
PROFILE_PREFIX = "profile."
PROFILE_ATTRIBUTES = "profile.attributes."


def is_template(text: str) -> bool:
    if "{{" in text or "{%" in text:
        return True
    return "${" in text and _PROFILE_PLACEHOLDER.search(text) is not None


def _with_aliases(text: str) -> str:
    if "${" not in text:
        return text
    return _PROFILE_PLACEHOLDER.sub(
        lambda m: "{{ profile.attributes['" + m.group(1) + "'] }}", text
    )


def _namespace(variables: dict[str, str] | None) -> dict[str, Any]:
    """The template's variables: a profile's flat `profile.…` names become one nested object
    (`profile.id`, `profile.attributes.firstName`)."""
    if not variables:
        return {}
    namespace: dict[str, Any] = {}
    profile: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for name, value in variables.items():
        if name.startswith(PROFILE_ATTRIBUTES):
            attributes[name[len(PROFILE_ATTRIBUTES) :]] = value
        elif name.startswith(PROFILE_PREFIX):
            profile[name[len(PROFILE_PREFIX) :]] = value
        else:
            namespace[name] = value
    if profile or attributes:
        namespace["profile"] = {**profile, "attributes": attributes}
    return namespace


@lru_cache(maxsize=1024)
def compile_template(text: str) -> BoundTemplate:
    try:
        template = _env.from_string(_with_aliases(text))
    except LiquidError as exc:
        raise TemplateSyntaxError(describe(exc)) from exc
    # Liquid looks filters up only when rendering; an unknown one would fail every recipient.
    unknown = sorted({name for name in template.filter_names() if name not in _env.filters})
    if unknown:
        raise TemplateSyntaxError("unknown filter " + ", ".join(repr(name) for name in unknown))
    return template


def render(text: str, variables: dict[str, str] | None) -> str:
    """The text for one recipient. Raises TemplateSyntaxError or TemplateRenderError."""
    if not is_template(text):
        return text
    template = compile_template(text)
    try:
        return template.render(**_namespace(variables))
    except LiquidError as exc:
        raise TemplateRenderError(describe(exc)) from exc


def render_content(content: dict[str, Any], variables: dict[str, str] | None) -> dict[str, Any]:
    """Every text field of a stored content for one recipient: its text and its media URLs.
    Raises TemplateSyntaxError or TemplateRenderError."""
    filled = dict(content)
    text = filled.get("text")
    if isinstance(text, str):
        filled["text"] = render(text, variables)
    media = filled.get("media")
    if isinstance(media, list) and any(is_template(item.get("url", "")) for item in media):
        filled["media"] = [item | {"url": render(item["url"], variables)} for item in media]
    return filled


def describe(exc: LiquidError) -> str:
    """Liquid's message with its line and column, on one line (not Liquid's source excerpt)."""
    message = getattr(exc, "message", None) or str(exc).split("\n", 1)[0]
    token = getattr(exc, "token", None)
    source = getattr(token, "source", None)
    start = getattr(token, "start_index", None)
    if isinstance(source, str) and isinstance(start, int) and 0 <= start <= len(source):
        line = source.count("\n", 0, start) + 1
        column = start - (source.rfind("\n", 0, start) + 1) + 1
        return f"{message} (line {line}, column {column})"
    return str(message)
