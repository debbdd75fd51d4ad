"""Sessions are rows in PostgreSQL (no Redis in the request path); the hourly beat task
removes the expired ones so the table does not grow without bound."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from reviewqueue.tasks import sessions_clear

pytestmark = pytest.mark.django_db


def test_sessions_clear_deletes_expired_sessions_and_keeps_live_ones():
    live = SessionStore()
    live["user"] = "alice"
    live.create()
    expired = SessionStore()
    expired["user"] = "bob"
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    sessions_clear()

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
