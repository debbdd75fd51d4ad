"""Schemathesis against our own OpenAPI schema, in-process on the real PostgreSQL database:
every operation, positive and negative inputs, never a 5xx, and every response (status, content
type, headers, body) is one the schema documents.

Requests go through the WSGI app in the test's own thread, so they share the test's database
connection and transaction (the rows each example writes are rolled back at the end). Ingest
operations authenticate with a real API key of `refund-bot` (queue `refunds`), the others with
a personal token of an admin who is a member of `refunds`. Path parameters are sometimes the
real queue and a real item, so decisions, claims and stage moves reach the services, not only
the 404 branch.
"""

from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reviewqueue.services.audit import Actor
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import recommendation_claim
from reviewqueue.services.setup import personal_token_create
from tests.conftest import World, item
from tests.factories import UserFactory, member

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Filled by the `fuzz_world` fixture before any example is drawn: real values that path
# parameters sometimes take (the hook below), so examples reach past "not found".
KNOWN: dict[str, str] = {}


# Loaded when the module is collected (about a second: drf-spectacular builds the schema).
# schemathesis.pytest.from_fixture would defer it, but its lazy runner does not work with
# pytest 9.2 (it sets Node._nodeid, which pytest no longer has).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@schema.hook
def flatmap_path_parameters(context, path_parameters: dict[str, Any] | None):
    if not path_parameters:
        return st.just(path_parameters)
    real = dict(path_parameters)
    if "slug" in real:
        real["slug"] = KNOWN["slug"]
    if "recommendation_id" in real:
        real["recommendation_id"] = KNOWN["recommendation_id"]
    return st.sampled_from([real, path_parameters])


def _routable(body: Any) -> Any:
    """The generated item, aimed at the real queue and action type with a payload that its
    schema accepts, so it is stored (or refused for its other fields) rather than 403."""
    if not isinstance(body, dict):
        return body
    action = body.get("action")
    payload = action.get("payload") if isinstance(action, dict) else None
    payload = {**(payload if isinstance(payload, dict) else {}), "order_id": "A-1", "amount": 4.0}
    return {**body, "queue": "refunds", "action": {"type": "refund.issue", "payload": payload}}


@schema.hook
def flatmap_body(context, body: Any):
    path = context.operation.path
    if path == "/api/v1/recommendations" and isinstance(body, dict):
        return st.sampled_from([_routable(body), body])
    if path == "/api/v1/recommendations/batch" and isinstance(body, dict):
        items = body.get("items")
        if isinstance(items, list):
            return st.sampled_from([{**body, "items": [_routable(i) for i in items]}, body])
    return st.just(body)


@pytest.fixture
def in_process_requests():
    """What Django's test client does around each request: the app must not close the test's
    connection (and with it the test's transaction) when a request starts or finishes."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(world: World, in_process_requests) -> dict[str, str]:
    admin = UserFactory(username="fuzz-admin", role="admin")
    member(admin, world.queue, role="senior")
    _, token = personal_token_create(user=admin, actor=Actor.system("test"))
    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="fuzz-known"))
    recommendation_claim(user=admin, queue=world.queue.slug)  # so decisions can succeed
    KNOWN.update(slug=world.queue.slug, recommendation_id=str(rec.pk))
    return {"Bearer": world.key, "Token": token}


def _is_ingest(case) -> bool:
    path = case.operation.path
    return path in ("/api/v1/recommendations", "/api/v1/recommendations/batch") or path.endswith(
        "/human-outcome"
    )


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(case, fuzz_world):
    scheme = "Bearer" if _is_ingest(case) else "Token"
    case.call_and_validate(
        headers={"Authorization": f"{scheme} {fuzz_world[scheme]}"}, checks=CHECKS
    )
