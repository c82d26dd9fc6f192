"""schemathesis against the OpenAPI document: whatever a client sends, valid or not, Chainon
answers no 5xx, and every answer is one the document declares (status, content type,
headers, body).

A served Chainon (uvicorn in a thread, its own runtime) with one brand and its key; a
bounded number of generated cases per operation, derandomised so a run is the same every
time. The rate limits are lifted: a 429 is declared, but every case answered 429 is a case
that did not reach the route.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chainon.api.app import create_app
from chainon.runtime import Runtime
from chainon.settings import Settings, StoreKind
from tests.conftest import make_settings, register
from tests.serving import serving_in_thread

MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NO_RATE_LIMITS = {
    f"rate_limit_{family}": 0 for family in ("messages", "reads", "writes", "admin", "webhooks")
}


def fuzzed_settings(data_dir: Path) -> Settings:
    return make_settings(StoreKind.SQLITE, data_dir).model_copy(update=NO_RATE_LIMITS)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The base URL of a served Chainon and the key of its one brand."""
    chainon_settings = fuzzed_settings(tmp_path_factory.mktemp("fuzzed"))
    runtime = Runtime(chainon_settings)
    try:
        key = register(runtime).key
    finally:
        runtime.close()
    with serving_in_thread(chainon_settings) as url:
        yield url, key


def loaded_schema() -> schemathesis.BaseSchema:
    """The document the app serves at ``/openapi.json``, read when the tests are collected
    (schemathesis makes one test per operation from it)."""
    document = create_app(Settings(demo_brand=False)).openapi()
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.generation.update(
        modes=list(schemathesis.GenerationMode),  # valid requests and invalid ones
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
    )
    # The queue's stream never ends: a client reads it as long as it is open (test_queue_api).
    return loaded.exclude(path="/v1/queue/stream")


schema = loaded_schema()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_declared_and_none_is_a_server_error(
    case: schemathesis.Case[Any], served: tuple[str, str]
) -> None:
    url, key = served
    case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
