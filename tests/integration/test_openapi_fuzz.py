"""A bounded property-based run of the gateway's own OpenAPI schema (schemathesis) against the
running gateway: no request, however odd, gets a 5xx, an undocumented status or content type,
or a body that breaks the schema.

Bounded so it stays about a second per operation: a fixed number of examples per operation, a
fixed seed (the same cases every run, so a finding reproduces), no shrinking. Run it wider by
hand with AGENTRY_FUZZ_EXAMPLES=500.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.stack import RunningStack

EXAMPLES = int(os.environ.get("AGENTRY_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="session")
def gateway_schema(stack: RunningStack) -> Any:
    return schemathesis.openapi.from_url(f"{stack.info.gateway_url}/openapi.json")


@pytest.fixture(scope="session")
async def fuzz_key(stack: RunningStack) -> str:
    """An admin of a tenant of its own: it sees only what the fuzzing itself creates, and
    cannot scale the shared pools (that needs the platform-operator role)."""
    return await stack.create_key("admin", "fuzz", tenant="fuzz-tenant")


def bounded_run(operation: Any, headers: dict[str, str], calls: Counter[str]) -> Any:
    """A hypothesis test of one operation: each generated case is sent and its answer checked."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate],  # the schema's examples would start real model calls
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def keeps_contract(case: schemathesis.Case) -> None:
        calls[operation.label] += 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    return keeps_contract


def test_the_gateway_keeps_its_contract(gateway_schema: Any, fuzz_key: str) -> None:
    """Every operation, each with its own bounded run; all findings are reported together."""
    headers = {"Authorization": f"Bearer {fuzz_key}"}
    findings: list[str] = []
    calls: Counter[str] = Counter()
    for result in gateway_schema.get_all_operations():
        operation = result.ok()
        try:
            bounded_run(operation, headers, calls)()
        except Exception as failure:  # one operation's finding; the others still run
            findings.append(f"{operation.label}: {failure}")
    assert findings == [], "\n\n".join(findings)
    assert len(calls) >= 20 and min(calls.values()) >= 1, calls  # every operation was tried
