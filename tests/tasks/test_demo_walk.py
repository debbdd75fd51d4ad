"""Issue 6's "done when", on the demo's own data with a real worker and the real demo
target: the seeded `cancellations` queue walks from shadow to supervised on its readiness
report, then a burst of failing actions makes it step back by itself, visibly and audited."""

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from reviewqueue.exceptions import ValidationFailed
from reviewqueue.management.commands.seed_demo import cancellation
from reviewqueue.models import ActionType, AuditEvent, Queue, Source, StageChange, User
from reviewqueue.selectors.metrics_readiness import readiness_for
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.stages import stage_change

ROOT = Path(__file__).resolve().parents[2]
SECRET = "demo-walk-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo_target(monkeypatch):
    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", SECRET)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo_target", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "DEMO_WEBHOOK_SECRET": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def gates(queue: Queue) -> dict[str, str]:
    return {g.key: g.status for g in readiness_for(queue=queue).gates}


def test_demo_queue_walks_to_supervised_and_steps_back_on_a_failure_burst(
    start_worker, demo_target, capsys
):
    call_command("seed_demo", count=10, history_days=30)
    queue = Queue.objects.get(slug="cancellations")
    admin = User.objects.get(username="admin")
    assert queue.stage == "shadow" and queue.blind_review

    # shadow -> approval: every gate met on the seeded blind reviews.
    assert gates(queue) == {"shadow_agreement": "met"}
    stage_change(queue=queue, to_stage="approval", user=admin)

    # approval -> supervised: rates met on the same days; incidents are checked by hand,
    # so the admin must say why.
    assert gates(queue) == {
        "approval_rate": "met",
        "cosmetic_modifications": "met",
        "incidents": "no_data",
    }
    with pytest.raises(ValidationFailed):
        stage_change(queue=queue, to_stage="supervised", user=admin)
    stage_change(queue=queue, to_stage="supervised", user=admin, comment="Incident tracker: none.")
    queue.refresh_from_db()
    assert queue.stage == "supervised" and queue.breaker_tripped_at is None

    # The burst: cancellations the demo target refuses (422), auto-executed by a worker.
    ActionType.objects.filter(name="subscription.cancel").update(
        url=f"{demo_target}/actions/cancel", max_attempts=1
    )
    start_worker()
    call_command("demo_failures", count=12)
    assert "12 routed auto" in capsys.readouterr().out
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        queue.refresh_from_db()
        if queue.breaker_tripped_at:
            break
        time.sleep(0.2)
    assert queue.breaker_tripped_at is not None, "the breaker never tripped"

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
    # process's routing cache, REVIEWQUEUE_CONFIG_CACHE_SECONDS, has expired).
    time.sleep(settings.REVIEWQUEUE_CONFIG_CACHE_SECONDS + 0.2)
    source = Source.objects.get(name="support-agent")
    rec, _ = recommendation_ingest(
        source=source, data=cancellation(999_999, random.Random(1), sure=True)
    )
    assert rec.route == "review"
