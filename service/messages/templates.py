"""Liquid templates in message text and tag values, rendered per recipient."""

from __future__ import annotations

from functools import lru_cache

from liquid import Environment
from liquid.exceptions import LiquidError
from liquid.template import BoundTemplate

# Missing variables render empty (Liquid's default Undefined), unless a `default` filter is used.
_env = Environment()


class TemplateSyntaxError(Exception):
    """The template cannot be parsed."""


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


@lru_cache(maxsize=1024)
def compile_template(text: str) -> BoundTemplate:
    try:
        return _env.from_string(text)
    except LiquidError as exc:
        raise TemplateSyntaxError(str(exc)) from exc


def render(text: str, variables: dict[str, str] | None) -> str:
    if not is_template(text):
        return text
    try:
        return compile_template(text).render(**(variables or {}))
    except LiquidError as exc:
        raise TemplateSyntaxError(str(exc)) from exc
