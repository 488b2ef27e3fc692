"""Property-based fuzzing of every operation in the OpenAPI schema: never a 500, declared shapes hold.

Runs in-process against a seeded server on 127.0.0.1, authenticated as a user holding every permission (so
the generated data reaches the services, not just the auth check). FOUREYES_FUZZ_EXAMPLES bounds the work.
"""

from __future__ import annotations

import os
import warnings

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.hostile.live import Live, openapi_document

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # a duplicate operationId warning from FastAPI is not ours to judge here
    schema = schemathesis.openapi.from_dict(openapi_document())

EXAMPLES = int(os.environ.get("FOUREYES_FUZZ_EXAMPLES", "12"))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_survives_generated_input(case: schemathesis.Case, live: Live) -> None:
    case.call_and_validate(
        base_url=live.base_url,
        headers=live.headers(),
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        timeout=30,
    )
