"""Schemathesis against the live OpenAPI schema, in-process: every operation, with a real user's token.

The fuzzed user is on the enterprise tier with a huge burst rate, so that the daily quota does not turn the
run into a wall of 429s. Generation keeps schemathesis' defaults ``allow_x00=True`` and ``codec="utf-8"``:
NUL bytes are generated everywhere. Lone surrogates cannot be encoded as UTF-8, so they only reach the API
through JSON escapes: ``test_surrogates.py`` sends those explicitly.

``positive_data_acceptance`` is left out on purpose: the schema cannot express the rules that reject some
schema-valid inputs on purpose (password strength, ``confirm`` must be true, ``user_id`` must be the token's).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from config.wsgi import application

pytestmark = pytest.mark.slow  # over a thousand generated requests: make test and CI run it, make test-fast does not

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
assert schema.config.generation.allow_x00 and schema.config.generation.codec == "utf-8"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
    ignored_auth,
]
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Per operation; about 60 operation-cases per operation come out of it (explicit, coverage and generated
# phases), over 1,000 in all, in about 80 seconds on 2 shared cores.
MAX_EXAMPLES = 25
MIN_TOTAL_CASES = 1000

CASES: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    # The same cases on every run, so CI never fails on a case it happened to draw today; FUZZ_RANDOM=1 explores.
    derandomize=not os.environ.get("FUZZ_RANDOM"),
)
def test_it_never_fails_a_schemathesis_check(case, fuzz_headers):
    CASES[case.operation.label] += 1
    response = case.call(headers=fuzz_headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    STATUSES[response.status_code] += 1
    case.validate_response(response, checks=CHECKS, headers=fuzz_headers)


def test_zz_it_fuzzed_every_operation_with_over_a_thousand_cases_and_no_server_error():
    operations = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    total = sum(CASES.values())
    server_errors = sum(n for code, n in STATUSES.items() if code >= 500)
    print(f"\nschemathesis: {total} cases over {len(CASES)} operations; statuses {dict(sorted(STATUSES.items()))}")
    assert set(CASES) == operations
    assert total >= MIN_TOTAL_CASES
    assert server_errors == 0
