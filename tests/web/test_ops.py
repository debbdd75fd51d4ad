"""Liveness, readiness, the OpenAPI schema and docs, and problem+json for unknown API paths."""

import pytest
import yaml


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_is_503_when_the_broker_is_unreachable(client, db, settings):
    # A port nothing listens on: the real Redis transport fails to connect.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] != "ok"


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
