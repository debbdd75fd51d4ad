"""Liveness, readiness, the OpenAPI schema and docs, and problem+json for unknown API paths."""

import socket

import pytest
import yaml
from django.db import DEFAULT_DB_ALIAS, connection, connections


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "ok"},
        "unavailable": [],
    }


# Words of the driver and transport messages behind a failed check; none may reach the answer.
EXCEPTION_WORDS = ("Error", "refused", "127.0.0.1", "connect", "terminat", "server", "111")


def assert_no_exception_text(response) -> None:
    text = response.content.decode()
    assert not [word for word in EXCEPTION_WORDS if word in text], text


@pytest.fixture
def broker_down(settings):
    # A port of our own, bound and never listening: connections to it are refused, and no
    # other process can listen there while the test runs.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{bound.getsockname()[1]}/0"
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
        yield


@pytest.fixture
def database_down():
    """This process's connection cut for real by another session (what a restart or a
    failover does), for the next request. The test client keeps the broken connection."""

    def cut() -> None:
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        other = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            other.close()

    cut()
    yield
    connection.close()  # teardown needs a live connection


def test_readyz_names_the_broker_when_it_is_down_without_its_error(client, db, broker_down, caplog):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "unavailable"},
        "unavailable": ["broker"],
    }
    assert_no_exception_text(response)
    # The reason is for the operator, in the log.
    assert "readyz: broker unavailable" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_database_when_it_is_down_without_its_error(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "unavailable", "broker": "ok"}
    assert response.json()["unavailable"] == ["database"]
    assert_no_exception_text(response)
    connection.close()  # what Django does after a request that hit a broken connection
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_readyz_names_both_when_both_are_down(client, broker_down, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["unavailable"] == ["database", "broker"]
    assert_no_exception_text(response)


def test_openapi_schema_describes_the_ingest_contract(client, db):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.1")
    paths = schema["paths"]
    assert {
        "/api/v1/recommendations",
        "/api/v1/recommendations/batch",
        "/api/v1/recommendations/{recommendation_id}",
    } <= set(paths)
    create = paths["/api/v1/recommendations"]["post"]
    request_schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert "risk_score" in request_schema["properties"]
    assert {"201", "200", "400", "401", "403", "409", "413", "429"} <= set(create["responses"])


def test_interactive_docs_are_served_from_our_own_static_files(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr" not in html and "/static/" in html


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/recommendations"])
def test_unknown_api_paths_are_problem_json_404(client, db, settings, path):
    settings.DEBUG = False
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
