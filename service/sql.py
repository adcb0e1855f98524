"""Named SQL queries: each aggregate keeps its SQL in one queries.sql file.

A query starts with a line `-- name: query_name`; comments inside it stay with it (those
before its first keyword stay in the file only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Queries:
    def __init__(self, path: Path) -> None:
        self._queries: dict[str, str] = {}
        name: str | None = None
        lines: list[str] = []
        for line in path.read_text().splitlines():
            if line.startswith("-- name:"):
                if name:
                    self._queries[name] = _statement(lines)
                name = line.removeprefix("-- name:").strip()
                lines = []
            elif name:
                lines.append(line)
        if name:
            self._queries[name] = _statement(lines)

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(name) from None


def _statement(lines: list[str]) -> str:
    """A query's text without the comments before its first keyword: they are for the file's
    reader; the statement starts with its verb (what a trace names the statement's span by)."""
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines = lines[1:]
    return "\n".join(lines).strip()


def load(module_file: str) -> Queries:
    """The queries.sql beside the given module."""
    return Queries(Path(module_file).with_name("queries.sql"))


def columns(rows: Sequence[Any], *fields: str) -> list[list[Any]]:
    """The rows' fields as one list per field, in the order given: the arrays a bulk
    statement unnests (`unnest($1::uuid[], $2::text[], ...)`)."""
    return [[getattr(row, field) for row in rows] for field in fields]
