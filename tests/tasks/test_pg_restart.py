"""PostgreSQL restarted while ingest runs (issue 7, fault tests).

A real gunicorn (2 gthread workers) serves the test database; client threads post single
recommendations with unique external_ids while the test stops PostgreSQL (fast shutdown:
every connection is cut), keeps it down for a moment and starts it again. The gap must be
clear `503` problem+json with `Retry-After`, never a `500` or a dropped connection; `201`s
must come back by themselves, from the same gunicorn processes; every `201` is a row, once;
and a client retrying its `503`s gets each item stored exactly once. A signed-in reviewer's
page meanwhile answers the plain "temporarily unavailable" 503 page, then works again.

It restarts the PostgreSQL cluster that scripts/test (scripts/lib.sh start_postgres)
started for the suite, found through PGTMP/PGBIN; the rest of the suite keeps running on it.
"""

import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.db.models import Count

from reviewqueue.models import Recommendation, User
from tests.conftest import TEST_PASSWORD, People, World, item
from tests.gunicorn import Gunicorn, gunicorn_running
from tests.tasks.conftest import _test_database_url, wait_until
from tests.tasks.test_execution import approve, wait_status, wired  # noqa: F401 - fixture

PGTMP = os.environ.get("PGTMP", "")
DATA_DIR = Path(PGTMP) / "data" if PGTMP else None

CLIENTS = 8
RUN_SECONDS = 8.0
STOP_AT = 2.5  # seconds into the run
DOWN_SECONDS = 1.5
RECOVERED_WITHIN = 1.0  # after `pg_ctl start` returns, every new request must succeed

pytestmark = [
    pytest.mark.django_db(transaction=True),  # gunicorn must see the world's rows
    pytest.mark.skipif(
        not (DATA_DIR and DATA_DIR.exists()),
        reason="restarts the PostgreSQL cluster that scripts/test starts (PGTMP)",
    ),
]


def _pg_ctl(*args: str, check: bool = True) -> int:
    assert DATA_DIR is not None
    pg_bin = (
        os.environ.get("PGBIN")
        or subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    command = [f"{pg_bin}/pg_ctl", "-D", str(DATA_DIR), *args]
    if os.environ.get("PG_USER"):  # pg_ctl refuses root; scripts/test's cluster has an owner
        command = ["runuser", "-u", os.environ["PG_USER"], "--", *command]
    return subprocess.run(
        command, cwd=PGTMP, check=check, capture_output=True, timeout=60
    ).returncode


def _server_options() -> str:
    """The options the running postmaster was started with (minus binary and data dir), so
    that `pg_ctl start` brings it back on the same port and socket directory."""
    assert DATA_DIR is not None
    argv = shlex.split((DATA_DIR / "postmaster.opts").read_text())[1:]
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "-D":
            skip = True
        else:
            kept.append(arg)
    return shlex.join(kept)


@pytest.fixture
def gunicorn(world: World, tmp_path) -> Iterator[Gunicorn]:
    if shutil.which("runuser") is None and os.environ.get("PG_USER"):
        pytest.skip("needs runuser to drive pg_ctl as the cluster's owner")
    env = {
        "DATABASE_URL": _test_database_url(),
        "REVIEWQUEUE_INGEST_RATE": "1000000/m",  # the outage is the subject, not the limiter
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    with gunicorn_running(tmp_path / "gunicorn.log", env, workers=2, threads=4) as server:
        yield server


@dataclass
class Answer:
    external_id: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    content_type: str = ""
    problem_type: str = ""
    retry_after: str | None = None
    error: str = ""


def _post_until(url: str, key: str, client_no: int, stop: threading.Event, out: list[Answer]):
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=15) as http:
        n = 0
        while not stop.is_set():
            external_id = f"pg-restart-{client_no}-{n}"
            n += 1
            started = time.monotonic()
            try:
                response = http.post("/api/v1/recommendations", json=item(external_id=external_id))
            except httpx.TransportError as exc:
                out.append(Answer(external_id, started, time.monotonic(), None, error=repr(exc)))
                continue
            answer = Answer(
                external_id,
                started,
                time.monotonic(),
                response.status_code,
                response.headers.get("content-type", ""),
                retry_after=response.headers.get("retry-after"),
            )
            if response.status_code != 201:
                try:
                    answer.problem_type = response.json().get("type", "")
                except ValueError:
                    answer.error = response.text[:300]
            out.append(answer)


def _signed_in(url: str) -> httpx.Client:
    browser = httpx.Client(base_url=url, timeout=15)
    form = browser.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    response = browser.post(
        "/login/",
        data={"username": "rita", "password": TEST_PASSWORD, "csrfmiddlewaretoken": token[1]},
    )
    assert response.status_code == 302, response.text[response.text.find("<main") :][:1000]
    return browser


def _browse_until(browser: httpx.Client, stop: threading.Event, out: list[tuple]) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            page = browser.get("/queues/")
        except httpx.TransportError as exc:
            out.append((started, None, repr(exc), None))
        else:
            out.append((started, page.status_code, page.text, page.headers.get("retry-after")))
        time.sleep(0.05)
    browser.close()


def test_postgres_restart_during_ingest_gives_503s_then_recovers_and_loses_nothing(
    world: World, people: People, gunicorn: Gunicorn, capsys
):
    # gunicorn runs the production hashers; the suite's fast MD5 hasher is not among them.
    rita = people.reviewer
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(pk=rita.pk).update(password=hasher.encode(TEST_PASSWORD, hasher.salt()))
    browser = _signed_in(gunicorn.url)
    workers_before = gunicorn.workers()
    assert len(workers_before) == 2
    options = _server_options()
    answers: list[Answer] = []
    pages: list[tuple] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_post_until, args=(gunicorn.url, world.key, i, stop, answers))
        for i in range(CLIENTS)
    ]
    threads.append(threading.Thread(target=_browse_until, args=(browser, stop, pages)))
    t0 = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        time.sleep(STOP_AT)
        stopping_at = time.monotonic()
        _pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
        stopped_at = time.monotonic()
        time.sleep(DOWN_SECONDS)
    finally:
        # Whatever happened, the rest of the suite needs its database back.
        if _pg_ctl("status", check=False) != 0:
            _pg_ctl("start", "-w", "-t", "60", "-l", f"{PGTMP}/server.log", "-o", options)
        started_at = time.monotonic()
        connection.close()  # this process's connection died with the old server
    time.sleep(max(RUN_SECONDS - (started_at - t0), 3.0))
    stop.set()
    for thread in threads:
        thread.join(30)

    by_status = Counter(a.status for a in answers)
    no_answer = [a for a in answers if a.status is None]
    unavailable = [a for a in answers if a.status == 503]
    created = [a.external_id for a in answers if a.status == 201]
    slowest = max(a.ended - a.started for a in answers)
    with capsys.disabled():
        print(
            f"\n[pg restart] {len(answers)} requests: {by_status[201]} x 201, "
            f"{by_status[503]} x 503, {len(answers) - by_status[201] - by_status[503]} other "
            f"({dict(by_status)}); PostgreSQL down {started_at - stopping_at:.2f} s "
            f"(stop {stopped_at - stopping_at:.2f} s, start {started_at - stopped_at - DOWN_SECONDS:.2f} s); "
            f"slowest answer {slowest:.2f} s"
        )

    # gunicorn answered every request: an outage is an answer, not a dropped connection.
    assert no_answer == [], no_answer[:5]
    assert set(by_status) <= {201, 503}, by_status
    # The gap was hit, and answered as a clear, retryable problem.
    assert unavailable, "no request fell into the outage"
    for answer in unavailable:
        assert answer.content_type == "application/problem+json", answer
        assert answer.problem_type == "urn:reviewqueue:problem:database_unavailable", answer
        assert answer.retry_after == "5", answer
        # Answered while PostgreSQL was away (a request sent just before the stop may have
        # waited for a gunicorn thread), and none sent after it was back.
        assert answer.ended >= stopping_at, answer
        assert answer.started <= started_at + RECOVERED_WITHIN, answer
    # Before the outage and again after it, every request was stored.
    late = [a for a in answers if a.started > started_at + RECOVERED_WITHIN]
    assert len(late) >= CLIENTS and all(a.status == 201 for a in late), Counter(
        a.status for a in late
    )
    # The reviewer's page: a plain 503 page in the gap, the page itself before and after.
    page_statuses = Counter(status for _, status, _, _ in pages)
    assert set(page_statuses) == {200, 503}, page_statuses
    for started, status, text, retry_after in pages:
        if status == 503:
            assert "temporarily unavailable" in text and retry_after == "5", text[:300]
        if started > started_at + RECOVERED_WITHIN:
            assert status == 200, text[:300]
    # ...by the same processes: nothing was restarted to get there.
    assert gunicorn.process.poll() is None
    assert gunicorn.workers() == workers_before

    # Every 201 is in the database, once.
    stored = Counter(
        Recommendation.objects.filter(source=world.source).values_list("external_id", flat=True)
    )
    assert not set(created) - set(stored), sorted(set(created) - set(stored))[:5]
    assert all(n == 1 for n in stored.values())
    assert set(stored) <= {a.external_id for a in answers}

    # A client retrying its 503s gets each item stored exactly once (200: the failed-looking
    # request had in fact committed; 201: it had not).
    with httpx.Client(
        base_url=gunicorn.url, headers={"Authorization": f"Bearer {world.key}"}, timeout=15
    ) as http:
        retried = Counter(
            http.post("/api/v1/recommendations", json=item(external_id=a.external_id)).status_code
            for a in unavailable
        )
    assert set(retried) <= {200, 201}, retried
    everything = {a.external_id for a in answers}
    rows = (
        Recommendation.objects.filter(source=world.source)
        .values("external_id")
        .annotate(n=Count("id"))
    )
    assert {r["external_id"] for r in rows} == everything
    assert all(r["n"] == 1 for r in rows)
    log = gunicorn.log.read_text()
    assert "Internal Server Error" not in log and "Traceback" not in log, log[-3000:]
    with capsys.disabled():
        print(
            f"[pg restart] retried {len(unavailable)} x 503: {dict(retried)}; "
            f"reviewer's page: {dict(page_statuses)}"
        )


def _other_backends() -> set[int]:
    """The backends connected to the test database other than this process's own."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cur.fetchall()}


def test_worker_keeps_its_connection_between_tasks_and_reconnects_after_a_restart(
    wired,  # noqa: F811
    sink,
    start_worker,
):
    worker = start_worker()  # solo: one process, one connection
    wait_status(approve(wired, external_id="before-1"), "succeeded")
    kept = wait_until(_other_backends, "the worker's connection")
    for n in range(2, 5):
        wait_status(approve(wired, external_id=f"before-{n}"), "succeeded")
    assert _other_backends() == kept  # the same connection, not one per task

    options = _server_options()
    try:
        _pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
    finally:
        if _pg_ctl("status", check=False) != 0:
            _pg_ctl("start", "-w", "-t", "60", "-l", f"{PGTMP}/server.log", "-o", options)
        connection.close()  # this process's connection died with the old server
    # The worker notices its dead connection before the task's first query, reconnects and
    # executes as before: no failed task, nothing left for the sweep.
    after = [approve(wired, external_id=f"after-{n}") for n in range(3)]
    for rec in after:
        wait_status(rec, "succeeded", timeout=30)
    assert len(sink.to("/actions/refund")) == 7
    log = "".join(worker.log_lines)
    assert "Traceback" not in log and "raised unexpected" not in log, log[-3000:]
