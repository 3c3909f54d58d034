"""Property-based API tests: schemathesis generates requests from the served OpenAPI document.

Every GET operation gets up to 30 generated requests (hypothesis, derandomized); none may
produce a server error, and every error must be RFC 9457 problem+json. (Driven through
hypothesis directly: the schemathesis pytest plugin does not load under this pytest.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from server_live import Seeded


def test_get_operations(seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_url(f"{seeded.url}/openapi.json").include(method="GET")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 15
    seen: list[str] = []
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(timeout=30)
            assert response.status_code < 500, (case.path, response.text[:300])
            if response.status_code >= 400:
                ctype = response.headers["content-type"]
                ctype = ctype[0] if isinstance(ctype, list) else ctype
                assert ctype.startswith("application/problem+json"), case.path
                body = response.json()
                assert body["status"] == response.status_code and body["detail"]

        run()
        seen.append(op.path)
    assert "/api/v1/ledger/proof/inclusion" in seen
