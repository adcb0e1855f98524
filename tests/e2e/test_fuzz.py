"""Schemathesis against the running API, from the document it serves, as a fresh tenant.

Every operation gets schema-valid and schema-invalid requests (a bounded, derandomized number);
no answer may be a 5xx, every answer must be documented and match its schema, and every 4xx/5xx
body must be the error body of service/errors.py. Schemathesis calls blocking HTTP, so the
fuzzing runs in a thread while the API keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import api_error_body
from tests.support.tenants import Tenant

# A profile import's body is a byte stream of NDJSON or CSV (a binary string in the document):
# sent as given, as any byte stream is.
schemathesis.serializer.alias(["application/x-ndjson", "text/csv"], "application/octet-stream")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # Re-sends without and with wrong credentials: each must be refused with 401.
    ignored_auth,
    api_error_body,
]


@dataclass
class Findings:
    failures: list[str] = field(default_factory=list)
    operations: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)


def fuzz(
    document: dict[str, Any],
    base_url: str,
    auth: tuple[str, str],
    examples: int,
    derandomize: bool,
) -> Findings:
    """Run every operation's generated cases; collect failures instead of stopping at one."""
    schema = schemathesis.openapi.from_dict(document)
    findings = Findings()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()
            operation = result.ok()
            findings.operations += 1
            # The document's own examples first (a send to two addresses is one), then
            # generated cases: examples reach past validation however the schema grows.
            strategies = [(s, "examples") for s in operation.get_strategies_from_examples()]
            strategies += [
                (operation.as_strategy(generation_mode=mode), mode.value)
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            ]
            for strategy, kind in strategies:

                @hypothesis.settings(
                    max_examples=examples,
                    derandomize=derandomize,
                    database=None,
                    deadline=None,
                    # Report the first failing example as found: shrinking costs many requests.
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @hypothesis.given(case=strategy)
                def run(case: schemathesis.Case[Any]) -> None:
                    response = case.call(base_url=base_url, session=session, timeout=30, auth=auth)
                    findings.statuses[(operation.label, response.status_code)] += 1
                    case.validate_response(
                        response,
                        checks=CHECKS,
                        transport_kwargs={"auth": auth, "base_url": base_url, "timeout": 30},
                    )

                try:
                    run()
                except hypothesis.errors.Unsatisfiable:
                    # Nothing to make invalid (no parameters, no body): positive cases only.
                    assert kind == GenerationMode.NEGATIVE.value
                except (Exception, BaseExceptionGroup) as exc:
                    findings.failures.append(f"{operation.label} [{kind}]: {exc}")
    return findings


async def run_fuzz(
    anonymous: httpx.AsyncClient,
    api_url: str,
    tenant: Tenant,
    examples: int,
    derandomize: bool = True,
) -> Findings:
    document = (await anonymous.get("/schema/openapi.json")).json()
    auth = (tenant.account_sid, tenant.auth_token)
    return await asyncio.to_thread(fuzz, document, api_url, auth, examples, derandomize)


# About 80 s on an idle machine (35 operations, the send's and the dry run's bodies the dearest).
@pytest.mark.timeout(300)
async def test_fuzz_every_operation(
    anonymous: httpx.AsyncClient, api_url: str, tenant: Tenant, redis: object
) -> None:
    findings = await run_fuzz(anonymous, api_url, tenant, examples=25)
    assert not findings.failures, "\n\n".join(findings.failures)
    assert findings.operations >= 15
    # The credentials work: the fuzzing reaches past the door, not only 401s.
    assert findings.statuses["GET /v1/Messages", 200] > 0
    assert findings.statuses["POST /v1/Messages", 202] > 0
    assert findings.statuses["POST /v1/Messages", 400] > 0


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_fuzz_every_operation_longer(
    anonymous: httpx.AsyncClient, api_url: str, tenant: Tenant, redis: object
) -> None:
    """Random (not derandomized) inputs, 300 a mode and operation: a few minutes."""
    findings = await run_fuzz(anonymous, api_url, tenant, examples=300, derandomize=False)
    assert not findings.failures, "\n\n".join(findings.failures)


async def test_conflict_answers_are_documented(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """Answers random inputs rarely reach (a duplicate, a reused key) are in the document too."""
    document = (await anonymous.get("/schema/openapi.json")).json()
    sender = {"address": "+15017122699", "channel": "SMS"}
    assert (await client.post("/v1/Senders", json=sender)).status_code == 201
    send = {
        "to": [{"address": "+15558675310", "channel": "PHONE"}],
        "content": {"text": "hi"},
        "from": sender,
    }
    key = {"Idempotency-Key": "conflict-1"}
    assert (await client.post("/v1/Messages", json=send, headers=key)).status_code == 202
    answers = {
        ("/v1/Senders", "post"): await client.post("/v1/Senders", json=sender),
        ("/v1/Messages", "post"): await client.post(
            "/v1/Messages", json={**send, "content": {"text": "other"}}, headers=key
        ),
    }
    for (path, method), response in answers.items():
        assert response.status_code in (409, 422), response.text
        assert str(response.status_code) in document["paths"][path][method]["responses"]
        api_error_body(None, response, None)
