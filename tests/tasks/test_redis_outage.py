"""Redis stopped while ingest, claims, decisions, sign-in and pages go on (issue 13, "Bad input
and faults"): every request answers as usual, and once Redis is back every approved action
executes exactly once.

Real components: two gunicorn servers on the test database (two web processes, as behind a
load balancer; the requests alternate between them), a Celery worker on the Redis broker,
the HTTP sink as the target system, and the Redis that scripts/test started. Redis is
stopped with `redis-cli shutdown nosave` (whatever was queued is lost with it, as in a crash
of a Redis without persistence) and started again with scripts/lib.sh's flags. The test
plays beat's part by calling outbox_sweep. Every wait is for a condition, with a generous
deadline: the suite must pass on a loaded two-core machine.
"""

import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db.models import Count

from reviewqueue.models import Execution, User
from reviewqueue.services.audit import Actor
from reviewqueue.services.tokens import personal_token_create
from reviewqueue.tasks import outbox_sweep
from tests.conftest import TEST_PASSWORD, item
from tests.gunicorn import Gunicorn as Server
from tests.gunicorn import start_gunicorn
from tests.tasks.conftest import _test_database_url, wait_until
from tests.tasks.test_execution import wired  # noqa: F401 - fixture

REDIS_PORT = os.environ.get("REDIS_PORT", "")
REDIS_TMP = os.environ.get("REDIS_TMP", "")
WRONG = "not the password"

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the servers and the worker see the test's rows
    pytest.mark.skipif(
        not (REDIS_PORT and REDIS_TMP), reason="stops the Redis that scripts/test starts"
    ),
]


def _redis_cli(*args: str) -> str:
    result = subprocess.run(
        ["redis-cli", "-p", REDIS_PORT, *args], capture_output=True, text=True, timeout=30
    )
    return result.stdout.strip()


def redis_up() -> bool:
    return _redis_cli("ping") == "PONG"


def redis_stop() -> None:
    _redis_cli("shutdown", "nosave")
    wait_until(lambda: not redis_up(), "Redis to stop", timeout=60)


def redis_start() -> None:
    # The flags of scripts/lib.sh's start_redis.
    subprocess.run(
        [
            "redis-server", "--bind", "127.0.0.1", "--port", REDIS_PORT, "--daemonize", "yes",
            "--save", "", "--appendonly", "no", "--pidfile", f"{REDIS_TMP}/redis.pid",
            "--logfile", f"{REDIS_TMP}/redis.log", "--dir", REDIS_TMP,
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    wait_until(redis_up, "Redis to answer again", timeout=60)


def broker_idle() -> bool:
    """No message queued and none delivered but unacknowledged (kombu's Redis keys)."""
    return _redis_cli("llen", "celery") == "0" and _redis_cli("hlen", "unacked") == "0"


@pytest.fixture
def servers(wired, tmp_path) -> Iterator[list[Server]]:  # noqa: F811
    env = {"DATABASE_URL": _test_database_url(), "REVIEWQUEUE_LOGIN_RATE_USER": "3/5m"}
    started = [
        start_gunicorn(tmp_path / f"gunicorn-{n}.log", env, workers=1, threads=4, timeout=120)
        for n in range(2)
    ]
    try:
        for server in started:
            server.wait_healthy(timeout=120)
        yield started
    finally:
        for server in started:
            server.stop()


@dataclass
class Journal:
    """Every answer of the run: (phase, what, server, status, seconds)."""

    answers: list[tuple[str, str, str, int, float]] = field(default_factory=list)
    phase: str = "before"
    browsers: list[httpx.Client] = field(default_factory=list)

    def note(self, what: str, server: Server, response: httpx.Response, started: float) -> None:
        self.answers.append(
            (self.phase, what, server.url, response.status_code, time.monotonic() - started)
        )


def _csrf(browser: httpx.Client) -> str:
    return str(browser.cookies["csrftoken"])


def sign_in(server: Server, journal: Journal, username: str, password: str) -> httpx.Client:
    """A fresh browser on `server` after one sign-in attempt (its answer is in the journal)."""
    browser = httpx.Client(base_url=server.url, timeout=60)
    journal.browsers.append(browser)
    started = time.monotonic()
    form = browser.get("/login/")
    journal.note("login form", server, form, started)
    started = time.monotonic()
    response = browser.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": _csrf(browser)},
    )
    journal.note(
        f"sign-in {'right' if password == TEST_PASSWORD else 'wrong'}", server, response, started
    )
    return browser


def test_redis_down_every_request_answers_as_usual_and_every_approval_executes_once(
    wired,  # noqa: F811
    sink,
    start_worker,
    servers,
    capsys,
    request,
):
    # gunicorn runs the production hashers; the suite's fast MD5 hasher is not among them.
    hasher = PBKDF2PasswordHasher()
    User.objects.filter(pk=wired.reviewer.pk).update(
        password=hasher.encode(TEST_PASSWORD, hasher.salt())
    )
    _, token = personal_token_create(user=wired.reviewer, actor=Actor.system("test"))
    # Messages earlier tests published for rows that are gone would only delay this worker.
    _redis_cli("del", "celery")
    worker = start_worker()

    def waited(condition: Callable[[], bool], what: str, timeout: float) -> None:
        try:
            wait_until(condition, what, timeout)
        except AssertionError as exc:
            states = dict(Execution.objects.values_list("status").annotate(n=Count("id")))
            tail = "".join(worker.log_lines[-40:])
            raise AssertionError(f"{exc}; executions {states}; worker log:\n{tail}") from None

    journal = Journal()
    request.addfinalizer(lambda: [browser.close() for browser in journal.browsers])
    approved: list[str] = []
    browsers = {s.url: sign_in(s, journal, "rita", TEST_PASSWORD) for s in servers}

    def review_one(n: int) -> None:
        """Ingest one item, claim it and approve it (through the API or the page's form),
        open its page: on the servers in turn."""
        server = servers[n % 2]
        source = {"Authorization": f"Bearer {wired.key}"}
        person = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=server.url, timeout=60) as api:
            started = time.monotonic()
            ingested = api.post(
                "/api/v1/recommendations", json=item(external_id=f"redis-{n}"), headers=source
            )
            journal.note("ingest", server, ingested, started)
            assert ingested.status_code == 201, ingested.text
            rec_id = ingested.json()["id"]
            started = time.monotonic()
            claimed = api.post("/api/v1/queues/refunds/claim", headers=person)
            journal.note("claim", server, claimed, started)
            assert claimed.status_code == 200 and claimed.json()["id"] == rec_id, claimed.text
            started = time.monotonic()
            if n % 2:
                browser = browsers[server.url]
                decided = browser.post(
                    f"/queues/refunds/review/{rec_id}/decide",
                    data={"outcome": "approve"},
                    headers={"X-CSRFToken": _csrf(browser)},
                )
                journal.note("decision (page)", server, decided, started)
                assert decided.status_code in (302, 303), decided.text[:500]
            else:
                decided = api.post(
                    f"/api/v1/recommendations/{rec_id}/decision",
                    json={"outcome": "approve"},
                    headers=person,
                )
                journal.note("decision (API)", server, decided, started)
                assert decided.status_code == 200, decided.text
            approved.append(rec_id)
        browser = browsers[server.url]
        for path in ("/queues/", f"/recommendations/{rec_id}/"):
            started = time.monotonic()
            page = browser.get(path)
            journal.note(f"page {path.split('/')[1]}", server, page, started)
            assert page.status_code == 200, page.text[:500]

    # Before: everything works, and the worker executes what is approved.
    for n in range(2):
        review_one(n)
    waited(lambda: len(sink.to("/actions/refund")) >= 2, "the first two actions", 120)

    journal.phase = "down"
    redis_stop()
    try:
        for n in range(2, 8):
            review_one(n)
        # Signing in works, and the sign-in throttle is one budget over both processes:
        # 3 failures (REVIEWQUEUE_LOGIN_RATE_USER=3/5m) spread over the two, then both refuse.
        fresh = sign_in(servers[1], journal, "rita", TEST_PASSWORD)
        started = time.monotonic()
        journal.note("page queues", servers[1], fresh.get("/queues/"), started)
        for n in range(3):
            sign_in(servers[n % 2], journal, "sam", WRONG)
        for server in servers:
            sign_in(server, journal, "sam", WRONG)
        # Nothing can have reached the worker while its broker was away.
        assert len(sink.to("/actions/refund")) == 2
    finally:
        journal.phase = "after"
        redis_start()  # the rest of the suite needs it, whatever happened
    review_one(8)

    # Every approval executes: what was published before, what the sweep publishes now.
    swept = [0.0]

    def all_succeeded() -> bool:
        if time.monotonic() - swept[0] > 2:  # what beat does every 10 s
            outbox_sweep()
            swept[0] = time.monotonic()
        return Execution.objects.filter(status="succeeded").count() == len(approved)

    waited(all_succeeded, "every approved action to execute", 240)
    # ...exactly once: wait until the broker holds nothing more for the worker to run (the
    # sweep may have queued an execution twice; the second finds it done), then count.
    waited(broker_idle, "the broker to drain", 120)
    per_rec = Counter(r.json()["recommendation_id"] for r in sink.to("/actions/refund"))
    assert per_rec == Counter(approved), per_rec
    for received in sink.to("/actions/refund"):
        assert received.headers["Idempotency-Key"] == f"rq-{received.json()['recommendation_id']}"

    by_phase = Counter((phase, what, status) for phase, what, _, status, _ in journal.answers)
    slowest = max(seconds for phase, *_, seconds in journal.answers if phase == "down")
    with capsys.disabled():
        print(f"\n[redis down] slowest answer while down {slowest:.2f}s; answers: {dict(by_phase)}")
    down = [(what, status) for phase, what, _, status, _ in journal.answers if phase == "down"]
    assert all(status < 500 for _, status in down), down
    usual = {
        "ingest": {201},
        "claim": {200},
        "decision (API)": {200},
        "decision (page)": {302, 303},
        "login form": {200},
        "page queues": {200},
        "page recommendations": {200},
        "sign-in right": {302},
    }
    for what, status in down:
        if what in usual:
            assert status in usual[what], (what, status)
    wrong = [status for what, status in down if what == "sign-in wrong"]
    assert wrong == [200, 200, 200, 429, 429], wrong
    for server in servers:
        assert server.process.poll() is None, server.log_tail()
        log = server.log.read_text(errors="replace")
        assert "Internal Server Error" not in log and "Traceback" not in log, server.log_tail()
    # Redis was in the way: the decisions' publishing failed, and was left to the sweep.
    assert "broker unavailable" in "".join(s.log.read_text(errors="replace") for s in servers)
