"""Query parameters shared by the list routes, declared once for handlers and the OpenAPI document.

Values are taken as text and checked by the logic (service/filters.py), so one 400 names every
bad parameter; `schema_extra` documents patterns and enums without a second, earlier check.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from schemas.common import PAGE_SIZE_MAX
from schemas.messages import END_DATE_TEXT, START_DATE_TEXT, TAGS_FILTER_PATTERN

PageSizeParam = Annotated[
    int,
    QueryParameter(
        name="pageSize",
        ge=1,
        le=PAGE_SIZE_MAX,
        description="Items per page, 1..1000 (default 50).",
        schema_extra={"examples": [100]},
    ),
]
PageTokenParam = Annotated[
    str | None,
    QueryParameter(
        name="pageToken",
        description="A `pagination.next` or `self` token of this list with the same filters "
        "(a token of another list or other filters is a 400).",
        schema_extra={
            "examples": ["eyJ2IjoyLCJxIjoiOWYyYzQxIiwiYXQiOjE3OTQ3OTM2MDAxMjMwMDAsImlkIjoiMDE5In0"]
        },
    ),
]
StartDateParam = Annotated[
    str | None,
    QueryParameter(
        name="startDate",
        description=START_DATE_TEXT,
        schema_extra={"format": "date-time", "examples": ["2026-11-25T10:00:00Z"]},
    ),
]
EndDateParam = Annotated[
    str | None,
    QueryParameter(
        name="endDate",
        description=END_DATE_TEXT,
        schema_extra={"format": "date-time", "examples": ["2026-11-26T10:00:00.000Z"]},
    ),
]
TagsParam = Annotated[
    str | None,
    QueryParameter(
        name="tags",
        description="`key:value;key2:value2;` — only items whose tags hold every pair (AND).",
        schema_extra={"pattern": TAGS_FILTER_PATTERN, "examples": ["campaign:welcome;wave:2;"]},
    ),
]
