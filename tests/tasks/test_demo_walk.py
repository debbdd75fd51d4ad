"""Issue 6's "done when", on the demo's own data with a real worker and the real demo
target: the seeded `cancellations` queue walks from shadow to supervised on its readiness
report, then a burst of failing actions makes it step back by itself, visibly and audited.

The demo config points its webhooks and callbacks at 127.0.0.1:9100, where `scripts/run`
starts the demo target; the test starts its own on a free port and points every seeded URL
there, so nothing is sent to whatever else listens on 9100."""

import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from reviewqueue.management.commands.seed_demo import cancellation
from reviewqueue.models import ActionType, AuditEvent, Queue, Source, StageChange, User
from reviewqueue.reporting.readiness import readiness_for
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.stages import stage_change
from tests.tasks.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
SECRET = "demo-walk-secret"
SEEDED_TARGET = "http://127.0.0.1:9100"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo_target_on(port: int) -> tuple[subprocess.Popen, list[str]]:
    """The demo target started on `port`, once it listens there or has exited."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo_target", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "DEMO_WEBHOOK_SECRET": SECRET, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:  # drained to the end: the target never blocks on a pipe
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    listening = f"listening on http://127.0.0.1:{port}/"
    wait_until(
        lambda: process.poll() is not None or any(listening in line for line in lines),
        f"the demo target to listen on {port}",
    )
    return process, lines


def _start_demo_target() -> tuple[subprocess.Popen, str]:
    """The demo target on a free port of its own. The port is free when chosen and taken by
    the target a moment later; if another process took it in between, the target exits
    (address in use) and another port is tried."""
    lines: list[str] = []
    for _ in range(5):
        port = _free_port()
        process, lines = _demo_target_on(port)
        if process.poll() is None:
            return process, f"http://127.0.0.1:{port}"
    raise RuntimeError("the demo target did not start:\n" + "".join(lines))


@pytest.fixture
def demo_target(monkeypatch):
    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", SECRET)  # the worker signs with it
    process, url = _start_demo_target()
    yield url
    process.terminate()
    process.wait(10)


def own_targets(url: str) -> None:
    """Every webhook and callback URL the demo seeded, pointed at `url` instead."""
    for action_type in ActionType.objects.filter(url__startswith=SEEDED_TARGET):
        new = url + action_type.url.removeprefix(SEEDED_TARGET)
        ActionType.objects.filter(pk=action_type.pk).update(url=new)
    for source in Source.objects.filter(callback_url__startswith=SEEDED_TARGET):
        new = url + source.callback_url.removeprefix(SEEDED_TARGET)
        Source.objects.filter(pk=source.pk).update(callback_url=new)
    assert not ActionType.objects.filter(url__contains=":9100").exists()
    assert not Source.objects.filter(callback_url__contains=":9100").exists()


def gates(queue: Queue) -> dict[str, str]:
    return {g.key: g.status for g in readiness_for(queue=queue).gates}


def test_demo_queue_walks_to_supervised_and_steps_back_on_a_failure_burst(
    start_worker, demo_target, capsys
):
    call_command("seed_demo", count=10, history_days=30)
    own_targets(demo_target)
    queue = Queue.objects.get(slug="cancellations")
    admin = User.objects.get(username="admin")
    assert queue.stage == "shadow" and queue.blind_review

    # shadow -> approval: every gate met on the seeded blind reviews.
    assert gates(queue) == {"shadow_agreement": "met"}
    stage_change(queue=queue, to_stage="approval", user=admin)

    # approval -> supervised: rates met on the same days, and no incident recorded in them,
    # so no comment is needed.
    assert gates(queue) == {
        "approval_rate": "met",
        "cosmetic_modifications": "met",
        "incidents": "met",
    }
    stage_change(queue=queue, to_stage="supervised", user=admin)
    queue.refresh_from_db()
    assert queue.stage == "supervised" and queue.breaker_tripped_at is None

    # The burst: cancellations the demo target refuses (422), auto-executed by a worker.
    ActionType.objects.filter(name="subscription.cancel").update(max_attempts=1)
    start_worker()
    call_command("demo_failures", count=12)
    assert "12 routed auto" in capsys.readouterr().out
    wait_until(lambda: Queue.objects.get(pk=queue.pk).breaker_tripped_at, "the breaker to trip")
    queue.refresh_from_db()

    # Stepped back by itself: in the stage history, in the audit trail, on the page...
    back = StageChange.objects.filter(queue=queue).latest("id")
    assert (back.kind, back.from_stage, back.to_stage, back.user) == (
        "breaker",
        "supervised",
        "approval",
        None,
    )
    assert back.evidence["kind"] == "execution_failure" and back.evidence["rate"] > 0.2
    tripped = AuditEvent.objects.get(queue=queue, action="breaker.tripped")
    assert tripped.actor_label == "breaker"
    assert [
        e.data["to"]
        for e in AuditEvent.objects.filter(queue=queue, action="queue.stage_changed").order_by("id")
    ] == ["approval", "supervised"]

    # ...and in routing: a sure, low-risk cancellation now waits for a person (once this
    # process's routing cache, REVIEWQUEUE_CONFIG_CACHE_SECONDS, has expired: a wait for time
    # to pass, not for a worker).
    time.sleep(settings.REVIEWQUEUE_CONFIG_CACHE_SECONDS + 0.2)
    source = Source.objects.get(name="support-agent")
    rec, _ = recommendation_ingest(
        source=source, data=cancellation(999_999, random.Random(1), sure=True)
    )
    assert rec.route == "review"
