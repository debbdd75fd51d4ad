"""A stalled export (issue 14 #9): a client that stops reading must not hold a transaction
(and its snapshot) open. PostgreSQL ends the export's session once it has been idle in its
transaction for REVIEWQUEUE_EXPORT_IDLE_SECONDS; the stream then ends, and the next query
gets a fresh connection."""

import json
import time

import psycopg
import pytest
import time_machine
from django.db import connection
from django.test import override_settings

from reviewqueue.models import Queue
from reviewqueue.selectors import exports
from reviewqueue.selectors.audit_export import audit_export_lines, audit_export_request
from reviewqueue.services.ingest import recommendation_ingest
from tests.conftest import item

pytestmark = pytest.mark.django_db(transaction=True)


def _state(pid: int) -> str | None:
    """Our export session's state, seen from another connection (None: it is gone)."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        row = other.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    return None if row is None else str(row[0])


@pytest.fixture
def audit_events(world):
    with time_machine.travel("2026-10-01T09:00:00Z", tick=False):
        for i in range(5):
            recommendation_ingest(source=world.source, data=item(external_id=f"e-{i}"))


def _stream():
    request = audit_export_request(params={"from": "2026-10-01", "to": "2026-10-02"})
    return audit_export_lines(request)


@override_settings(REVIEWQUEUE_EXPORT_IDLE_SECONDS=1)
def test_a_stalled_export_does_not_keep_its_transaction(world, audit_events, monkeypatch):
    monkeypatch.setattr(exports, "SEND_BYTES", 1)  # a piece per line
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    stream = _stream()
    try:
        first = json.loads(next(stream))
    except BaseException:
        stream.close()
        raise
    assert first["action"] == "recommendation.created"
    assert _state(pid) == "idle in transaction"  # waiting for the client, transaction open
    time.sleep(2.5)  # the client stops reading
    assert _state(pid) is None  # PostgreSQL ended the session: no transaction, no snapshot
    assert list(stream) == []  # the client that comes back gets the end of the stream
    assert Queue.objects.filter(slug="refunds").exists()  # a fresh connection for the next query


@override_settings(REVIEWQUEUE_EXPORT_IDLE_SECONDS=30)
def test_a_client_that_keeps_reading_gets_everything(world, audit_events, monkeypatch):
    monkeypatch.setattr(exports, "SEND_BYTES", 1)
    stream = _stream()
    lines = [json.loads(piece) for piece in stream]
    assert len(lines) >= 5
    assert not connection.in_atomic_block  # the export's transaction ended with it


def test_a_fetch_has_a_statement_timeout(world, audit_events, monkeypatch):
    monkeypatch.setattr(exports, "SEND_BYTES", 1)
    stream = _stream()
    try:
        next(stream)
        # The stream is paused inside its transaction, on this same connection.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'),"
                " current_setting('idle_in_transaction_session_timeout')"
            )
            assert cursor.fetchone() == ("1min", "1min")
    finally:
        stream.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone() == ("0",)  # SET LOCAL: only the export's transaction
