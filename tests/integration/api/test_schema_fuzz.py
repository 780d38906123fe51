"""Schemathesis against the live server's own ``/api/openapi.json`` (issue 7).

Every operation gets generated requests — valid and invalid — with a real app key; no
answer may be a 5xx, carry an undocumented status or content type, or break its own
response schema. Runs on SQLite (the schema is the same on PostgreSQL).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ftpush.config import load_settings
from ftpush.web import create_app
from tests.integration.api.conftest import Api

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _document() -> dict[str, Any]:
    """The OpenAPI document, built once from the app (no server, no database)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), environ={})
        return create_app(settings).openapi()


SCHEMA = schemathesis.openapi.from_dict(_document())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_the_api_keeps_its_own_contract(operation: Any, api: Api, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the contract is the same on every backend")
    auth = {"Authorization": f"Bearer {api.keys['alpha']}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=api.url, headers=auth, checks=CHECKS)

    check()
