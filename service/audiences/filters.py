"""Audience filters: checked strictly, then translated to SQL with bound parameters only.

A filter is `{"attributes.<name>": <clause>, ...}`; every clause must match:

- a string, number or boolean: equality. All equalities of a filter become one containment
  test, `attributes @> $n` ({"plan": "pro", "vip": true}), which profiles_attributes_idx (GIN,
  jsonb_path_ops) answers;
- `{"in": [v, ...]}`: the attribute equals one of 1..100 scalars;
- `{"gt"|"gte"|"lt"|"lte": number, ...}`: a numeric range (an attribute that is not a number
  never matches);
- `{"exists": true|false}`: the attribute is present, or absent.

The SQL text is made only of fixed fragments and `$n` placeholders: names and values are
always parameters, never text in the statement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from schemas.audiences import MAX_ATTRIBUTE_NAME, MAX_FILTER_CLAUSES, MAX_IN_VALUES
from service import error_codes
from service.errors import Problem

PREFIX = "attributes."
_RANGES = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_OPERATORS = ("in", "exists", *_RANGES)


@dataclass(frozen=True)
class Clause:
    name: str
    # "eq", "in", "exists" or a range operator.
    op: str
    value: Any


@dataclass(frozen=True)
class Filter:
    clauses: list[Clause]

    def sql(self, column: str, first_param: int) -> tuple[str, list[Any]]:
        """The filter as a boolean SQL expression on `column` (a fixed column name of ours),
        with its parameters numbered from `first_param`."""
        params: list[Any] = []

        def param(value: Any, cast: str) -> str:
            params.append(value)
            return f"${first_param + len(params) - 1}::{cast}"

        parts: list[str] = []
        equal = {c.name: c.value for c in self.clauses if c.op == "eq"}
        if equal:
            parts.append(f"{column} @> {param(equal, 'jsonb')}")
        for clause in self.clauses:
            if clause.op == "in":
                name = param(clause.name, "text")
                values = param(clause.value, "jsonb")
                parts.append(f"({column} -> {name}) IN (SELECT jsonb_array_elements({values}))")
            elif clause.op == "exists":
                test = f"({column} ? {param(clause.name, 'text')})"
                parts.append(test if clause.value else f"NOT {test}")
            elif clause.op in _RANGES:
                name = param(clause.name, "text")
                # Cast only numbers: a string attribute never matches, and never fails the cast.
                number = (
                    f"(CASE WHEN jsonb_typeof({column} -> {name}) = 'number' "
                    f"THEN ({column} ->> {name})::numeric END)"
                )
                parts.append(f"{number} {_RANGES[clause.op]} {param(clause.value, 'numeric')}")
        return " AND ".join(parts) or "true", params


@dataclass
class _Problems:
    items: list[Problem] = field(default_factory=list)

    def add(self, message: str, context: str) -> None:
        self.items.append(Problem(error_codes.INVALID_FILTER.code, message, context))


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool | str):
        return True
    return isinstance(value, int | float) and math.isfinite(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _key_path(base: str, key: str) -> str:
    return f"{base}['{key}']" if len(key) <= 200 else f"{base}[…]"


def check_filter(raw: Any, context: str = "$.filter") -> tuple[Filter | None, list[Problem]]:
    """The filter checked; with every problem found (code 90050), each with its JSON path."""
    problems = _Problems()
    if not isinstance(raw, dict):
        problems.add("filter must be an object of clauses", context)
        return None, problems.items
    if not raw:
        problems.add("filter must have at least one clause", context)
    if len(raw) > MAX_FILTER_CLAUSES:
        problems.add(
            f"filter has {len(raw)} clauses; at most {MAX_FILTER_CLAUSES} are allowed", context
        )
        return None, problems.items
    clauses: list[Clause] = []
    for key, value in raw.items():
        where = _key_path(context, key)
        name = key[len(PREFIX) :] if key.startswith(PREFIX) else ""
        if not name or len(name) > MAX_ATTRIBUTE_NAME:
            problems.add(
                f"filter keys are attributes.<name>, the name 1..{MAX_ATTRIBUTE_NAME} characters",
                where,
            )
            continue
        if isinstance(value, dict):
            clauses.extend(_operator_clauses(name, value, where, problems))
        elif _is_scalar(value):
            clauses.append(Clause(name, "eq", value))
        else:
            problems.add(
                "a clause is a string, number or boolean (equality) or an object of operators "
                "(in, exists, gt, gte, lt, lte)",
                where,
            )
    if problems.items:
        return None, problems.items
    return Filter(clauses), []


def _operator_clauses(
    name: str, operators: dict[str, Any], where: str, problems: _Problems
) -> list[Clause]:
    unknown = [op for op in operators if op not in _OPERATORS]
    for op in unknown:
        problems.add(
            f"unknown operator {op[:50]!r}: use in, exists, gt, gte, lt or lte",
            _key_path(where, op),
        )
    if unknown:
        return []
    if not operators:
        problems.add("an operator object needs one operator", where)
        return []
    if ("in" in operators or "exists" in operators) and len(operators) > 1:
        problems.add("in and exists stand alone in their clause", where)
        return []
    if "in" in operators:
        values = operators["in"]
        path = _key_path(where, "in")
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_IN_VALUES:
            problems.add(f"in takes a list of 1..{MAX_IN_VALUES} values", path)
            return []
        if not all(_is_scalar(v) for v in values):
            problems.add("in takes strings, numbers or booleans", path)
            return []
        return [Clause(name, "in", values)]
    if "exists" in operators:
        if not isinstance(operators["exists"], bool):
            problems.add("exists takes true or false", _key_path(where, "exists"))
            return []
        return [Clause(name, "exists", operators["exists"])]
    clauses = []
    for op, bound in operators.items():
        if not _is_number(bound):
            problems.add(f"{op} takes a number", _key_path(where, op))
            continue
        clauses.append(Clause(name, op, bound))
    return clauses
