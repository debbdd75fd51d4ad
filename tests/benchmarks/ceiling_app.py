"""The Django ceiling of bench_ceiling.py: a minimal Django view that runs exactly the SQL one
of our endpoints ran, and nothing else.

bench_ceiling.py records, per operation, the statements our endpoint sent to PostgreSQL (the
SQL with its parameters, which this app binds on the server and prepares on reuse as ours
does, DATABASE_PREPARED_STATEMENTS; a COPY with the bytes it streamed) and the
UUIDs each statement returned. `POST /replay/<op>` sends the same statements through
Django's connection, in order, reading every result; a UUID a statement returned that a later
statement names is replaced by the one this run returned (so eight clients replaying "claim
then decide" each decide the item they claimed). An operation that writes runs in one
transaction that is rolled back, so every replay does the same work on the same rows; a read
runs in autocommit, as our endpoint does. `GET /hello` answers without SQL.

Same settings as minimal_app.py (persistent connections, health checks) and our database\noptions, no middleware.

    CEILING_RECORDINGS=recordings.json gunicorn tests.benchmarks.ceiling_app:application
"""

import json
import os
from typing import Any

from django.core.wsgi import get_wsgi_application
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path

from tests.benchmarks.benchlib import configure_bare_django, run_statements

configure_bare_django(__name__, "ceiling-app")

with open(os.environ["CEILING_RECORDINGS"]) as _file:
    RECORDINGS: dict[str, dict[str, Any]] = json.load(_file)


def _django_execute(
    sql: str, params: list[Any] | dict[str, Any] | None, copy_data: bytes | None
) -> Any:
    with connection.cursor() as cursor:
        if copy_data is not None:
            with cursor.cursor.copy(sql) as copy:
                copy.write(copy_data)
            return None
        cursor.execute(sql, params)  # None: the literal text, sent as it is
        return cursor.fetchall() if cursor.description is not None else None


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def replay(request: HttpRequest, op: str) -> HttpResponse:
    recording = RECORDINGS.get(op)
    if recording is None:
        return HttpResponse(f"no recording named {op}", status=404)
    try:
        if recording["writes"]:
            with transaction.atomic():
                rows = run_statements(recording["statements"], _django_execute)
                transaction.set_rollback(True)
        else:
            rows = run_statements(recording["statements"], _django_execute)
    except Exception as exc:  # the benchmark prints it: a replay that fails is a bug of ours
        return HttpResponse(f"replay of {op} failed: {exc!r}", status=500)
    body = json.dumps({"rows": len(rows or ()), "first": (rows or [None])[0]}, default=str)
    return HttpResponse(body, content_type="application/json")


urlpatterns = [path("hello", hello), path("replay/<str:op>", replay)]

application = get_wsgi_application()
