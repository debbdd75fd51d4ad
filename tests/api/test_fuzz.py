"""Schemathesis against our own OpenAPI schema, in-process on the real PostgreSQL database:
every operation, positive and negative inputs, never a 5xx, and every response (status, content
type, headers, body) is one the schema documents.

Requests go through the WSGI app in the test's own thread, so they share the test's database
connection and transaction (the rows each example writes are rolled back at the end). Ingest
operations authenticate with a real API key of `refund-bot` (queue `refunds`), the others with
a personal token of an admin who is a member of `refunds`. Path parameters are sometimes the
real queue and a real item, so decisions, claims and stage moves reach the services, not only
the 404 branch.

NUL characters, which PostgreSQL's text and jsonb refuse, are in every run, not left to
chance: half of the examples with string query parameters carry one in each of them (always a
400 naming them, answered by web/badinput.py), and some examples with a JSON body carry one in
a string of it (a 400 from the API's parser wherever the view reads its body; never a 5xx).
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
from reviewqueue.services.tokens import personal_token_create
from tests.conftest import People, World, item
from tests.factories import member
from tests.web.test_bad_input import _first_string, _with_nul_at

NUL = "\x00"
NUL_IN_VALUE = "NUL characters are not allowed."
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


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _with_nul(body: Any) -> Any:
    """The body with a NUL in its first string, or the body as it is if it has none."""
    place = _first_string(body)
    return body if place is None else _with_nul_at(body, place)


@schema.hook
def flatmap_body(context, body: Any):
    path = context.operation.path
    if path == "/api/v1/recommendations" and isinstance(body, dict):
        routable = _routable(body)
        return st.sampled_from([routable, body, _with_nul(routable)])
    if path == "/api/v1/recommendations/batch" and isinstance(body, dict):
        items = body.get("items")
        if isinstance(items, list):
            routable = {**body, "items": [_routable(i) for i in items]}
            return st.sampled_from([routable, body, _with_nul(routable)])
    return st.sampled_from([body, _with_nul(body)])


@schema.hook
def flatmap_query(context, query: dict[str, Any] | None):
    if not query or not any(isinstance(v, str) for v in query.values()):
        return st.just(query)
    with_nul = {k: f"{v}{NUL}" if isinstance(v, str) else v for k, v in query.items()}
    return st.sampled_from([query, with_nul])


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
def fuzz_world(world: World, people: People, in_process_requests) -> dict[str, str]:
    admin = people.admin
    member(admin, world.queue, role="senior")  # an admin who also reviews
    _, token = personal_token_create(user=admin, actor=Actor.system("test"))
    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="fuzz-known"))
    recommendation_claim(user=admin, queue=world.queue.slug)  # so decisions can succeed
    KNOWN.update(slug=world.queue.slug, recommendation_id=str(rec.pk))
    return {"Bearer": world.key, "Token": token}


INGEST_COLLECTIONS = ("/api/v1/recommendations", "/api/v1/recommendations/batch")


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
    response = case.call_and_validate(
        headers={"Authorization": f"{scheme} {fuzz_world[scheme]}"}, checks=CHECKS
    )
    with_nul = sorted(k for k, v in (case.query or {}).items() if isinstance(v, str) and NUL in v)
    if with_nul:
        assert response.status_code == 400, response.text
        errors = response.json()["errors"]
        assert set(with_nul) <= set(errors), errors
        assert all(message == NUL_IN_VALUE for message in errors.values()), errors
    elif (
        case.operation.path in INGEST_COLLECTIONS
        and _has_nul(case.body)
        # Negative examples may leave the credentials out: who is asking is settled first.
        and "Authorization" in response.request.headers
    ):
        assert response.status_code == 400, response.text
        errors = response.json()["errors"].values()
        assert any("NUL characters" in message for message in errors), response.text
