"""The error-code catalogue (service/error_codes.py) is the one place codes are defined: every
error the API raises, every code the OpenAPI document lists and every code SQL names
literally agrees with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import service.app  # noqa: F401  (loads every module that defines an ApiError)
from sandbox import errors as sandbox_errors
from service import error_codes
from service.error_codes import CATALOGUE, ErrorCode
from service.errors import ApiError, TooManyRequests, ValidationFailed
from service.openapi.components import RECORDED_CODES

ROOT = Path(__file__).resolve().parents[2]


def _constants() -> dict[str, ErrorCode]:
    return {
        name: value
        for name, value in vars(error_codes).items()
        if isinstance(value, ErrorCode) and name.isupper()
    }


def _api_errors() -> list[type[ApiError]]:
    found: list[type[ApiError]] = []
    pending: list[type[ApiError]] = [ApiError]
    while pending:
        cls = pending.pop()
        if cls.__module__ != __name__:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_no_code_is_defined_twice_and_every_constant_is_catalogued() -> None:
    constants = _constants()
    codes = [entry.code for entry in constants.values()]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    assert duplicates == []
    for name, entry in constants.items():
        assert CATALOGUE.get(entry.code) is entry, name
    assert len(CATALOGUE) == len(constants)
    assert all(code == entry.code for code, entry in CATALOGUE.items())


def test_building_a_catalogue_with_a_repeated_code_fails() -> None:
    with pytest.raises(ValueError, match="90020"):
        error_codes._catalogue(
            error_codes.UNADDRESSABLE, ErrorCode(90020, None, "again", ours=True)
        )


def test_ours_are_exactly_the_9xxxx_codes() -> None:
    for code, entry in CATALOGUE.items():
        assert entry.ours == (90000 <= code <= 99999), code


def test_entries_are_well_formed() -> None:
    for code, entry in CATALOGUE.items():
        assert 10000 <= code <= 99999, code
        assert entry.http_status is None or 400 <= entry.http_status <= 599, code
        assert entry.message.strip(), code
        assert entry.summary.strip(), code
        # One line: the OpenAPI document lists each code on a line of its own.
        assert "\n" not in entry.summary, code
        assert "; " not in entry.summary, code


def test_info_urls_lead_to_twilio_for_its_codes_and_to_our_page_for_ours() -> None:
    for code, entry in CATALOGUE.items():
        url = error_codes.info_url(code, "https://comms.example/")
        if entry.ours:
            assert url == f"https://comms.example/docs/errors#{code}"
        else:
            assert url == f"https://www.twilio.com/docs/api/errors/{code}"
    # A provider's code the catalogue does not know is Twilio's.
    assert error_codes.info_url(30410, "https://comms.example") == (
        "https://www.twilio.com/docs/api/errors/30410"
    )


def test_a_summary_defaults_to_the_message() -> None:
    entry = ErrorCode(12345, None, "Some text", ours=False)
    assert entry.summary == "Some text"
    assert error_codes.INVALID_TO.summary == error_codes.INVALID_TO.message
    assert error_codes.OPTED_OUT.summary != error_codes.OPTED_OUT.message


def test_the_codes_the_service_records_and_documents_are_catalogued() -> None:
    expected = {
        "QUEUE_OVERFLOW": 30001,
        "UNREACHABLE_HANDSET": 30003,
        "MESSAGE_BLOCKED": 30004,
        "UNKNOWN_HANDSET": 30005,
        "LANDLINE": 30006,
        "FILTERED": 30007,
        "LOST": 30008,
        "EXPIRED": 30036,
        "CHANNEL_ADDRESS_NOT_FOUND": 63003,
        "OUTSIDE_SESSION_WINDOW": 63016,
        "OPTED_OUT": 21610,
        "BODY_TOO_LONG": 21617,
        "TEMPLATE_RENDER": 90004,
        "UNADDRESSABLE": 90020,
        "SERVICE_UNAVAILABLE": 20503,
        "TOO_MANY_REQUESTS": 20429,
        "INVALID_TO": 21211,
        "BINDING_EXISTS": 50416,
        "CONVERSATION_CLOSED": 50377,
        "NOT_FOUND": 20404,
    }
    constants = _constants()
    assert {name: constants[name].code for name in expected} == expected
    # Recorded on messages or met in a provider's answers, never an HTTP answer of ours.
    for name in ("QUEUE_OVERFLOW", "LOST", "EXPIRED", "OPTED_OUT", "UNADDRESSABLE"):
        assert constants[name].http_status is None, name
    assert error_codes.BODY_TOO_LONG.http_status == 400


def test_every_code_the_provider_reports_on_a_message_is_catalogued() -> None:
    """The sandbox stands for Twilio: each code it reports later on a message (HTTP status 0
    in its catalogue) can end up on ours, so ours must know it."""
    reported = {code for code, kind in sandbox_errors.CATALOG.items() if kind.status == 0}
    assert reported
    assert reported - CATALOGUE.keys() == set()
    for code in reported:
        assert CATALOGUE[code].http_status is None, code


def test_texts_in_use_are_kept() -> None:
    """Texts that messages and answers carry today (they are stored and compared)."""
    assert error_codes.OPTED_OUT.message == (
        "The recipient opted out of this account's messages (suppression list)"
    )
    assert error_codes.QUEUE_OVERFLOW.message == (
        "Queue overflow: the sender's backlog outlasts the validity period"
    )
    assert error_codes.UNADDRESSABLE.message == (
        "No sender of this send can reach any of the recipient's addresses"
    )
    assert error_codes.EXPIRED.message == "Message validity period expired"
    assert error_codes.INVALID_TO.message == "Invalid 'To' phone number"
    assert TooManyRequests(7).message == "Too many requests for this account; retry after 7 s"


def test_api_errors_that_name_an_entry_answer_with_it() -> None:
    named = [cls for cls in _api_errors() if "error" in cls.__dict__]
    # errors.py, idempotency, senders and callbacks define these.
    assert len(named) >= 11
    for cls in named:
        entry = cls.__dict__["error"]
        assert CATALOGUE[entry.code] is entry, cls
        assert (cls.code, cls.status_code) == (entry.code, entry.http_status), cls
        if cls is TooManyRequests:
            continue
        error = cls()
        assert (error.code, error.message) == (entry.code, entry.message), cls
        assert error.problems[0].code == entry.code


def test_every_api_error_answers_with_a_catalogued_http_code() -> None:
    for cls in _api_errors():
        entry = CATALOGUE.get(cls.code)
        assert entry is not None, cls
        assert entry.http_status is not None, cls
        if "error" not in cls.__dict__ and cls not in (ApiError, ValidationFailed):
            # Classes that set their code themselves (service/text_guard.py) use a field
            # error of ours; only the HTTP status may differ (408 for a body that timed out).
            assert 400 <= cls.status_code <= 599, cls
    assert (ApiError.code, ApiError.status_code) == (
        error_codes.INTERNAL.code,
        error_codes.INTERNAL.http_status,
    )
    assert ApiError().message == error_codes.INTERNAL.message


def test_an_api_error_cannot_answer_with_a_code_that_is_never_an_http_answer() -> None:
    with pytest.raises(TypeError, match="90020"):

        class Unaddressable(ApiError):
            error = error_codes.UNADDRESSABLE


def _answered(document: dict[str, object]) -> dict[int, set[int]]:
    """Each code the document's error answers show (their examples are keyed by code), with
    the HTTP statuses it is answered with."""
    found: dict[int, set[int]] = {}
    paths = document["paths"]
    assert isinstance(paths, dict)
    for operations in paths.values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    for media in response.get("content", {}).values():
                        for key in media.get("examples", {}):
                            if key.isdigit():  # not GET /readyz's readiness answer
                                found.setdefault(int(key), set()).add(int(status))
    return found


def test_the_document_answers_only_catalogued_codes_with_their_statuses() -> None:
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    for code, statuses in _answered(document).items():
        entry = CATALOGUE[code]
        # A body that did not arrive in time is the one 408 (service/text_guard.py).
        allowed = {entry.http_status} | ({408} if entry is error_codes.INVALID_FIELD else set())
        assert statuses <= allowed, (code, statuses)


def test_the_committed_document_lists_every_catalogued_code() -> None:
    """Each HTTP code is answered by some operation; each code recorded on messages is listed
    where messages carry it (ErrorDetail.code)."""
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    answered = _answered(document)
    http_codes = {code for code, entry in CATALOGUE.items() if entry.http_status is not None}
    # 20403 answers the provider's callbacks, which are not in the document.
    assert http_codes - answered.keys() == {error_codes.BAD_SIGNATURE.code}
    recorded = document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]
    listed = {entry.code for entry in RECORDED_CODES}
    assert {code for code, e in CATALOGUE.items() if e.http_status is None} <= listed
    for code in listed:
        assert f"[{code}](" in recorded["description"], code


def test_sql_literal_codes_are_the_catalogue_s() -> None:
    counters = (ROOT / "migrations" / "0016_operation_counters.sql").read_text()
    literals = re.findall(r"error_code\s*=\s*(\d+)", counters)
    assert literals, "the operation counters no longer name the unaddressable code"
    assert {int(code) for code in literals} == {error_codes.UNADDRESSABLE.code}
    # Any other SQL that compares an error code with a literal names a catalogued code.
    for path in sorted((ROOT / "service").rglob("*.sql")):
        for code in re.findall(r"error_code\s*(?:=|<>|!=|IN\s*\()\s*(\d+)", path.read_text()):
            assert int(code) in CATALOGUE, (path.name, code)
