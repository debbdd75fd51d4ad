"""A request whose database connection is gone answers 503 with Retry-After (problem+json for
the API, a plain page for people), never 500; the next connection works again.

The connection is cut for real: another session terminates this one's PostgreSQL backend
(what a restart or a failover does to every open connection). tests/tasks/test_pg_restart.py
does the same to a whole running gunicorn by restarting PostgreSQL.
"""

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from reviewqueue.models import Recommendation
from tests.conftest import World, item

# The cut connection takes its transaction along.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cut_connection():
    def cut() -> None:
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        other = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                assert cursor.fetchone() == (True,)
        finally:
            other.close()

    yield cut
    connection.close()  # the test client keeps the broken one; teardown needs a live one


def test_ingest_answers_503_problem_when_the_connection_is_gone(world: World, cut_connection):
    cut_connection()
    response = world.client().post("/api/v1/recommendations", item(), format="json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["type"] == "urn:reviewqueue:problem:database_unavailable"
    assert body["status"] == 503 and body["title"] == "Service unavailable"

    connection.close()  # what Django does at the end of a request that hit a broken connection
    retried = world.client().post("/api/v1/recommendations", item(), format="json")
    assert retried.status_code == 201, retried.content
    assert Recommendation.objects.filter(external_id=item()["external_id"]).count() == 1


def test_a_page_answers_a_plain_503_page_when_the_connection_is_gone(
    world: World, people, client, cut_connection
):
    client.force_login(people.reviewer)
    assert client.get("/queues/").status_code == 200

    cut_connection()
    response = client.get("/queues/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"temporarily unavailable" in response.content

    connection.close()
    assert client.get("/queues/").status_code == 200
