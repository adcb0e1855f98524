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


class Conditions:
    """Conditions composed into a named query, for a query planned once per shape of its
    filters: each is ANDed where the query's comment `/* place */` stands, and the values they
    name are the parameters after the query's own, numbered on from them."""

    def __init__(self, *args: Any) -> None:
        self.args: list[Any] = list(args)
        self._places: dict[str, list[str]] = {}

    def param(self, value: Any) -> str:
        """The placeholder ($n) of a new parameter holding `value`."""
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, place: str, condition: str) -> None:
        self._places.setdefault(place, []).append(condition)

    def compose(self, query: str, *places: str) -> str:
        """The query with each place's conditions (none: nothing) where its comment stands."""
        for place in places:
            marker = f"/* {place} */"
            if marker not in query:
                raise ValueError(f"the query has no {marker}")
            conditions = self._places.get(place, [])
            query = query.replace(marker, " ".join(f"AND {c}" for c in conditions))
        return query
