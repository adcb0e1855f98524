"""Bulk profile imports: NDJSON or CSV bodies of up to 1,000,000 rows.

How an import runs (see README "Profiles"):
1. The request streams: the body is cut into rows as it arrives (never held whole), and the
   rows are staged raw in profile_import_rows by COPY, a chunk at a time, in the transaction
   that creates the import. So an import either exists with every row of its body staged, or
   not at all (a client that goes away, a body over the limits: nothing is left). Only a CSV
   header is read here (a bad header is a 400); rows are checked by the worker.
2. The answer is 202 with the import (PROCESSING); `GET /v1/Profiles/Imports/{id}` follows it.
3. A worker loads the staged rows in row order, a chunk per transaction (load_next_chunk): it
   checks each row as the API checks a profile, writes the valid ones (an external id upserts
   as PUT /v1/Profiles/ExternalId does; without one, a profile is created), counts the refused
   ones and keeps the first 100 errors, and deletes the chunk's staged rows, all in that
   transaction. A worker that dies mid-chunk loses that chunk's work and its staged rows stay,
   so the next worker loads them once: no duplicates, nothing lost. The import's row is locked
   for the chunk (FOR UPDATE SKIP LOCKED), so two workers never load the same import at once.

Rows: an NDJSON row is one line holding a profile as POST /v1/Profiles takes it. A CSV body's
first row names the columns: `externalId`, `timeZone`, address columns (`sms`, `whatsapp`,
`conversations`; repeatable, their order is the addresses' priority) and attribute columns
`attributes.<name>` (text), `attributes.<name>:number` or `attributes.<name>:boolean`
(`true`/`false`). An empty cell gives nothing: the field stays as it is (or absent). A row's
number is the body's line it starts on (a CSV header is line 1); blank lines are skipped.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import structlog
from msgspec import UNSET, UnsetType

from schemas.profiles import (
    MAX_IMPORT_ERRORS,
    MAX_IMPORT_ROWS,
    AttributeValue,
    ProfileAddress,
    ProfileCreate,
    ProfileImportError,
    ProfileImportRead,
)
from service import error_codes, ids
from service.clock import rfc3339
from service.errors import ApiError, NotFound, Problem, ValidationFailed
from service.profiles import store
from service.profiles.logic import write_by_external_id
from service.profiles.validation import EMPTY, Fields, State, check, merge

log = structlog.get_logger(__name__)

# The largest import body (the route's request_max_body_size), and the longest row.
MAX_IMPORT_BYTES = 1024 * 1024 * 1024
MAX_ROW_BYTES = 64 * 1024
# Rows staged per COPY (or fewer when their bytes reach STAGE_CHUNK_BYTES): each COPY stays
# well inside the statement timeout.
STAGE_CHUNK_ROWS = 2_000
STAGE_CHUNK_BYTES = 1024 * 1024
# Rows a worker loads per transaction.
LOAD_CHUNK_ROWS = 2_000

MEDIA_TYPES = {
    "application/x-ndjson": "NDJSON",
    "application/ndjson": "NDJSON",
    "application/jsonl": "NDJSON",
    "text/csv": "CSV",
}
ADDRESS_COLUMNS = {"sms": "SMS", "whatsapp": "WHATSAPP", "conversations": "CONVERSATIONS"}
_ATTRIBUTE_COLUMN = re.compile(r"^attributes\.(.+?)(?::(string|number|boolean))?$")
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_MSGSPEC_PATH = re.compile(r" - at `(\$[^`]*)`$")


class TooManyRows(ApiError):
    """A profile import holds at most 1,000,000 rows."""

    error = error_codes.IMPORT_TOO_MANY_ROWS


class UnsupportedMediaType(ApiError):
    """A profile import's Content-Type must be application/x-ndjson or text/csv."""

    error = error_codes.IMPORT_MEDIA_TYPE


def present(row: store.ImportRow) -> ProfileImportRead:
    return ProfileImportRead(
        id=ids.encode(ids.PROFILE_IMPORT, row.id),
        status=row.status,  # type: ignore[arg-type]
        format=row.format,  # type: ignore[arg-type]
        rows_read=row.rows_read,
        rows_imported=row.rows_imported,
        rows_failed=row.rows_failed,
        errors=[msgspec.convert(e, ProfileImportError) for e in row.errors],
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )


async def get_import(pool: asyncpg.Pool, *, account_sid: str, import_id: str) -> ProfileImportRead:
    key = ids.decode(ids.PROFILE_IMPORT, import_id)
    row = await store.get_import(pool, key, account_sid) if key else None
    if row is None:
        raise NotFound()
    return present(row)


# The request: rows out of the stream, staged -----------------------------------------------


def format_of(content_type: str) -> str:
    found = MEDIA_TYPES.get(content_type.strip().lower())
    if found is None:
        raise UnsupportedMediaType(context="$.headers.Content-Type")
    return found


Row = tuple[int, bytes | None]


class Splitter:
    """Cuts a body into rows as its chunks arrive, never holding more than a row.

    A row is a non-blank line without its line end, except that a CSV row goes on over line
    ends inside a quoted field (while its quotes are odd in number). A row is numbered by the
    line it starts on (from 1); one longer than MAX_ROW_BYTES is None (never held whole).
    """

    def __init__(self, csv_quoting: bool) -> None:
        self.csv_quoting = csv_quoting
        self.pending = bytearray()  # the start of a line whose end has not arrived
        self.too_long = False
        self.number = 0  # lines finished so far
        self.held: bytearray | None = None  # a CSV row's lines so far, inside quotes
        self.start = 0  # the held row's first line

    def feed(self, chunk: bytes) -> list[Row]:
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            self._extend(chunk)
            return []
        first: bytes | None = None
        if not self.too_long and len(self.pending) + len(parts[0]) <= MAX_ROW_BYTES:
            self.pending += parts[0]
            first = bytes(self.pending)
        self.pending.clear()
        self.too_long = False
        rows: list[Row] = []
        self._rows([first], rows)
        middle = parts[1:-1]
        if self.csv_quoting:
            self._rows(middle, rows)
        else:
            # NDJSON: a line is a row (a trailing \r is JSON whitespace: the worker's decoder
            # takes it), so one comprehension does.
            limit = MAX_ROW_BYTES
            rows += [
                (number, line if len(line) <= limit else None)
                for number, line in enumerate(middle, self.number + 1)
                if line and not line.isspace()
            ]
            self.number += len(middle)
        self._extend(parts[-1])
        return rows

    def end(self) -> list[Row]:
        rows: list[Row] = []
        if self.pending or self.too_long:
            self._rows([None if self.too_long else bytes(self.pending)], rows)
        if self.held is not None:
            rows.append((self.start, bytes(self.held)))
            self.held = None
        return rows

    def _extend(self, part: bytes) -> None:
        if self.too_long:
            return
        self.pending += part
        if len(self.pending) > MAX_ROW_BYTES:
            self.too_long = True
            self.pending.clear()

    def _rows(self, lines: list[bytes] | list[bytes | None], rows: list[Row]) -> None:
        number = self.number
        csv_quoting = self.csv_quoting
        for line in lines:
            number += 1
            if line is not None:
                if len(line) > MAX_ROW_BYTES:
                    line = None
                elif line.endswith(b"\r"):
                    line = line[:-1]
            if self.held is not None:
                if line is None or len(self.held) + 1 + len(line) > MAX_ROW_BYTES:
                    rows.append((self.start, None))
                    self.held = None
                    continue
                self.held += b"\n" + line
                if self.held.count(b'"') % 2 == 0:
                    rows.append((self.start, bytes(self.held)))
                    self.held = None
            elif line is None:
                rows.append((number, None))
            elif not line or line.isspace():
                continue
            elif csv_quoting and line.count(b'"') % 2:
                self.start, self.held = number, bytearray(line)
            else:
                rows.append((number, line))
        self.number = number


@dataclass(frozen=True)
class Column:
    """What one CSV column gives: `field` is externalId, timeZone, address or attribute."""

    field: str
    channel: str = ""
    name: str = ""
    kind: str = "string"


def parse_header(line: bytes | None) -> list[str]:
    """A CSV header's column names, or a 400 naming every bad one."""
    if line is None:
        raise ValidationFailed(
            [Problem(error_codes.INVALID_FIELD.code, "The CSV header is too long", "$.columns")]
        )
    try:
        names = next(csv.reader([line.decode("utf-8-sig")], strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        raise ValidationFailed(
            [Problem(error_codes.INVALID_FIELD.code, "The CSV header is not CSV text", "$.columns")]
        ) from exc
    columns_of(names)
    return [name.strip() for name in names]


def columns_of(names: list[str]) -> list[Column]:
    """What each CSV column gives, or a 400 naming every bad one."""
    problems: list[Problem] = []
    columns: list[Column] = []
    seen: set[str] = set()
    for index, raw in enumerate(names):
        name = raw.strip()
        where = f"$.columns[{index}]"
        attribute = _ATTRIBUTE_COLUMN.match(name)
        if name.lower() in ("externalid", "timezone"):
            column = Column("externalId" if name.lower() == "externalid" else "timeZone")
        elif name.lower() in ADDRESS_COLUMNS:
            column = Column("address", channel=ADDRESS_COLUMNS[name.lower()])
        elif attribute is not None and "\x00" not in name:
            column = Column(
                "attribute", name=attribute.group(1), kind=attribute.group(2) or "string"
            )
        else:
            problems.append(
                Problem(
                    error_codes.INVALID_FIELD.code,
                    f"Unknown column {name[:64]!r}: expected externalId, timeZone, sms, whatsapp, "
                    "conversations or attributes.<name>[:number|:boolean]",
                    where,
                )
            )
            continue
        key = column.field if column.field != "attribute" else f"attributes.{column.name}"
        if column.field != "address" and key in seen:
            problems.append(
                Problem(error_codes.INVALID_FIELD.code, f"Column {key!r} is given twice", where)
            )
        seen.add(key)
        columns.append(column)
    if problems:
        raise ValidationFailed(problems)
    return columns


async def accept(
    pool: asyncpg.Pool,
    *,
    account_sid: str,
    content_type: str,
    chunks: AsyncIterator[bytes],
    now: datetime,
) -> ProfileImportRead:
    """Stage the body's rows as a new import (all of them, or nothing) and answer it."""
    kind = format_of(content_type)
    import_id = ids.uuid7()
    splitter = Splitter(csv_quoting=kind == "CSV")
    columns: list[str] | None = None
    pending: list[Row] = []
    stream = aiter(chunks)
    if kind == "CSV":
        # The header first: a bad one is answered before anything is stored.
        while not pending:
            chunk = await anext(stream, None)
            pending = splitter.feed(chunk) if chunk is not None else splitter.end()
            if chunk is None:
                break
        if not pending:
            raise ValidationFailed(
                [Problem(error_codes.INVALID_FIELD.code, "The body holds no rows", "$")]
            )
        columns = parse_header(pending.pop(0)[1])
    read = 0
    async with pool.acquire() as conn, conn.transaction():
        await store.insert_import(conn, import_id, account_sid, kind, columns, now)
        staged: list[Row] = []
        size = 0
        ended = False
        while not ended:
            if pending:
                rows, pending = pending, []
            else:
                chunk = await anext(stream, None)
                ended = chunk is None
                rows = splitter.end() if chunk is None else splitter.feed(chunk)
            read += len(rows)
            if read > MAX_IMPORT_ROWS:
                raise TooManyRows(context="$")
            for row in rows:
                staged.append(row)
                size += len(row[1] or b"")
                if len(staged) >= STAGE_CHUNK_ROWS or size >= STAGE_CHUNK_BYTES:
                    await store.copy_staged_rows(conn, import_id, staged)
                    staged, size = [], 0
        await store.copy_staged_rows(conn, import_id, staged)
        if read == 0:
            raise ValidationFailed(
                [Problem(error_codes.INVALID_FIELD.code, "The body holds no rows", "$")]
            )
        await store.set_rows_read(conn, import_id, read)
        stored = await store.get_import(conn, import_id, account_sid)
    assert stored is not None
    return present(stored)


# The worker: rows checked and loaded -------------------------------------------------------


class RowError(Exception):
    def __init__(self, code: int, message: str, context: str | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(code, message, context)


def _invalid(message: str, context: str | None = None) -> RowError:
    return RowError(error_codes.INVALID_FIELD.code, message, context)


def _ndjson_row(line: bytes) -> ProfileCreate:
    try:
        return msgspec.json.decode(line, type=ProfileCreate)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _MSGSPEC_PATH.search(message)
        if match:
            raise _invalid(message[: match.start()], match.group(1)) from exc
        raise _invalid(message, "$") from exc
    except msgspec.DecodeError as exc:
        raise _invalid("The row is not a JSON object (NDJSON: one profile per line)") from exc


def _cell_value(column: Column, text: str) -> AttributeValue:
    context = f"$.attributes.{column.name}"
    if column.kind == "number":
        if _INTEGER.match(text):
            return int(text)
        try:
            return float(text)
        except ValueError:
            raise _invalid(f"{column.name} must be a number", context) from None
    if column.kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise _invalid(f"{column.name} must be true or false", context)
    return text


def _csv_row(columns: list[Column], line: bytes) -> ProfileCreate:
    try:
        text = line.decode("utf-8")
        cells = next(csv.reader([text], strict=True))
    except UnicodeDecodeError as exc:
        raise _invalid("The row is not UTF-8 text") from exc
    except (csv.Error, StopIteration) as exc:
        raise _invalid(f"The row is not CSV: {exc}") from exc
    if len(cells) > len(columns):
        raise _invalid(f"The row has {len(cells)} cells; the header names {len(columns)}")
    external_id: str | UnsetType = UNSET
    time_zone: str | UnsetType = UNSET
    addresses: list[ProfileAddress] = []
    attributes: dict[str, AttributeValue | None] = {}
    for column, cell in zip(columns, cells, strict=False):
        if cell == "":
            continue
        if column.field == "externalId":
            external_id = cell
        elif column.field == "timeZone":
            time_zone = cell
        elif column.field == "address":
            addresses.append(ProfileAddress(address=cell, channel=column.channel))
        else:
            attributes[column.name] = _cell_value(column, cell)
    return ProfileCreate(
        external_id=external_id,
        addresses=addresses if addresses else UNSET,
        attributes=attributes if attributes else UNSET,
        time_zone=time_zone,
    )


def parse_row(columns: list[Column] | None, line: bytes | None) -> Fields:
    """A staged row as a checked write, or the RowError of why it is refused."""
    if line is None:
        raise _invalid(f"The row is longer than {MAX_ROW_BYTES} bytes")
    body = _ndjson_row(line) if columns is None else _csv_row(columns, line)
    fields, problems = check(body)
    if problems:
        first = problems[0]
        raise RowError(first.code, first.message, first.context)
    if fields.external_id is None:  # null in a row: no external id
        fields = Fields(UNSET, fields.addresses, fields.attributes, fields.time_zone)
    return fields


def _error(row: int, problem: Problem) -> dict[str, Any]:
    error: dict[str, Any] = msgspec.to_builtins(
        ProfileImportError(
            row=row, code=problem.code, message=problem.message, context=problem.context
        )
    )
    return error


async def load_next_chunk(
    pool: asyncpg.Pool, now: Callable[[], datetime], chunk_rows: int = LOAD_CHUNK_ROWS
) -> bool:
    """Load the next chunk of an import no other worker holds; False when there is none."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await store.claim_import(conn)
        if claimed is None:
            return False
        staged = await store.staged_rows(conn, claimed.id, chunk_rows)
        moment = now()
        columns = columns_of(claimed.columns) if claimed.columns is not None else None
        failed: list[tuple[int, Problem]] = []
        keyed: list[tuple[int, Fields]] = []
        created: list[State] = []
        for number, line in staged:
            try:
                fields = parse_row(columns, line)
            except RowError as exc:
                failed.append((number, exc.problem))
                continue
            if isinstance(fields.external_id, str):
                keyed.append((number, fields))
            else:
                merged, problems = merge(EMPTY, fields)
                if problems:
                    failed.append((number, problems[0]))
                else:
                    created.append(merged)
        written = await write_by_external_id(
            conn, claimed.account_sid, [fields for _, fields in keyed], moment
        )
        for (number, _), (_, _, problems) in zip(keyed, written, strict=True):
            if problems:
                failed.append((number, problems[0]))
        await store.copy_profiles(
            conn,
            claimed.account_sid,
            [
                store.ProfileWrite(ids.uuid7(), None, s.addresses, s.attributes, s.time_zone)
                for s in created
            ],
            moment,
        )
        failed.sort(key=lambda item: item[0])
        room = max(0, MAX_IMPORT_ERRORS - claimed.errors_kept)
        await store.record_progress(
            conn,
            claimed.id,
            imported=len(staged) - len(failed),
            failed=len(failed),
            errors=[_error(number, problem) for number, problem in failed[:room]],
            now=moment,
        )
        if staged:
            await store.delete_staged_rows(conn, claimed.id, staged[-1][0])
        if len(staged) < chunk_rows:
            await store.finish_import(conn, claimed.id, moment)
            log.info("profile import done", import_id=ids.encode(ids.PROFILE_IMPORT, claimed.id))
    return True


async def run_imports(
    pool: asyncpg.Pool,
    now: Callable[[], datetime],
    budget_s: float,
    chunk_rows: int = LOAD_CHUNK_ROWS,
) -> int:
    """Load chunks of imports until none is left or budget_s has passed; the chunks loaded."""
    deadline = time.monotonic() + budget_s
    loaded = 0
    while time.monotonic() < deadline:
        try:
            if not await load_next_chunk(pool, now, chunk_rows):
                break
        except asyncpg.UniqueViolationError:
            # A profile with one of the chunk's external ids was created meanwhile (by the
            # API): the chunk is loaded again, seeing it.
            continue
        loaded += 1
    return loaded
