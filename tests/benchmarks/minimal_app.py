"""Baseline B of the ingest benchmark: the least a Django view can do to store one item.

One module is the whole project: settings (through settings.configure), the urlconf and the
WSGI application. POST /ingest parses the JSON body and runs one INSERT of a
recommendation-shaped row into the scratch table `bench_minimal` (created by
bench_ingest.py), through Django's connection with the same database settings as the app
(persistent connections, health checks). No middleware, no auth, no validation.

    gunicorn tests.benchmarks.minimal_app:application --workers 2 --threads 1
"""

import hashlib
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from tests.benchmarks.benchlib import configure_bare_django

configure_bare_django(__name__, "minimal-app")

TABLE = "bench_minimal"
COLUMNS = (
    "id", "source_id", "queue_id", "action_type_id", "external_id", "content_hash", "payload",
    "confidence", "risk_score", "rationale", "evidence", "model_name", "model_version",
    "prompt_version", "priority", "expires_at", "metadata", "route", "status", "created_at",
    "updated_at", "due_at", "qa_sampled",
)  # fmt: skip
_JSON_COLUMNS = {"payload", "evidence", "metadata"}
INSERT_SQL = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ("
    + ", ".join("%s::jsonb" if c in _JSON_COLUMNS else "%s" for c in COLUMNS)
    + ")"
)


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 62) & 0xFFF) << 64
    return uuid.UUID(int=value | 0b10 << 62 | rand & ((1 << 62) - 1))


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def ingest(request: HttpRequest) -> HttpResponse:
    data = json.loads(request.body)
    now = datetime.now(UTC)
    pk = uuid7()
    row = (
        pk, 1, 1, 1, data["external_id"],
        hashlib.sha256(request.body).hexdigest(),
        json.dumps(data["action"]["payload"]), data["confidence"], data["risk_score"],
        data.get("rationale", ""), json.dumps(data.get("evidence", [])),
        data["model"]["name"], data["model"]["version"], data.get("prompt_version", ""),
        data.get("priority", 0), data.get("expires_at"), json.dumps(data.get("metadata", {})),
        "review", "pending", now, now, now + timedelta(minutes=60), False,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, row)
    return JsonResponse({"id": str(pk), "external_id": data["external_id"]}, status=201)


urlpatterns = [path("hello", hello), path("ingest", ingest)]

application = get_wsgi_application()
