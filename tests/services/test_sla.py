"""The SLA and expiry sweep, with a controllable clock."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from reviewqueue.exceptions import LeaseLost
from reviewqueue.models import AuditEvent, Decision, Execution, Recommendation
from reviewqueue.selectors.queues import queue_rows_for
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from reviewqueue.tasks import sla_sweep
from tests.conftest import item

T0 = datetime(2030, 1, 6, 9, 0, tzinfo=UTC)


def add(world, **overrides) -> Recommendation:
    rec, _ = recommendation_ingest(source=world.source, data=item(**overrides))
    return rec


def test_items_past_their_sla_are_flagged_overdue_once_and_audited(world, people):
    with time_machine.travel(T0, tick=False):
        late = add(world, external_id="late")
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        fresh = add(world, external_id="fresh")
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        assert sla_sweep() == {"overdue": 1, "escalated": 0, "expired": 0, "warned": 0}
        assert sla_sweep()["overdue"] == 0  # flagged once
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert late.overdue_at == T0 + timedelta(minutes=61) and late.status == "pending"
    assert fresh.overdue_at is None
    event = AuditEvent.objects.get(action="recommendation.overdue")
    assert event.recommendation_id == late.pk and event.actor_label == "sla"
    assert event.data == {"due_at": (T0 + timedelta(minutes=60)).isoformat()}


def test_overdue_pending_items_escalate_to_seniors_when_the_queue_says_so(world, people):
    world.queue.sla_escalate = True
    world.queue.save()
    with time_machine.travel(T0, tick=False):
        waiting = add(world, external_id="waiting")
    # A second later: with the clock frozen, equal created_at would leave the claim order to
    # the random bits of two ids minted in the same millisecond.
    with time_machine.travel(T0 + timedelta(seconds=1), tick=False):
        held = add(world, external_id="held")
        assert recommendation_claim(user=people.reviewer, queue=world.queue).pk == waiting.pk
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        result = sla_sweep()
    assert result == {"overdue": 2, "escalated": 1, "expired": 0, "warned": 0}
    waiting.refresh_from_db()
    held.refresh_from_db()
    # The held item stays with its reviewer; the waiting one went to the seniors.
    assert (waiting.status, held.status) == ("in_review", "escalated")
    assert held.escalated_at == T0 + timedelta(minutes=61)
    event = AuditEvent.objects.get(action="recommendation.escalated")
    assert event.recommendation_id == held.pk and event.data["reason"] == "sla"
    # A plain reviewer no longer gets it; the senior does.
    assert recommendation_claim(user=people.senior, queue=world.queue).pk == held.pk


def test_without_sla_escalate_overdue_items_stay_pending(world, people):
    with time_machine.travel(T0, tick=False):
        rec = add(world)
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        assert sla_sweep()["escalated"] == 0
    rec.refresh_from_db()
    assert rec.status == "pending" and rec.overdue_at is not None


def test_items_past_expires_at_close_as_expired_never_as_approvals(world, people):
    expiry = T0 + timedelta(minutes=10)
    with time_machine.travel(T0, tick=False):
        pending = add(world, external_id="p", expires_at=expiry.isoformat())
        held = add(world, external_id="h", expires_at=expiry.isoformat(), priority=9)
        keeps = add(world, external_id="k", expires_at=(T0 + timedelta(days=1)).isoformat())
        assert recommendation_claim(user=people.reviewer, queue=world.queue).pk == held.pk
    with time_machine.travel(expiry, tick=False):
        assert sla_sweep()["expired"] == 2
    for rec in (pending, held, keeps):
        rec.refresh_from_db()
    assert (pending.status, held.status, keeps.status) == ("expired", "expired", "pending")
    assert held.claimed_by is None and held.lease_expires_at is None
    assert held.closed_at == expiry
    assert not Decision.objects.exists() and not Execution.objects.exists()
    assert AuditEvent.objects.filter(action="recommendation.expired").count() == 2
    # The holder's approval is refused: the item is closed.
    with time_machine.travel(expiry, tick=False), pytest.raises(LeaseLost) as exc:
        recommendation_decide(user=people.reviewer, recommendation_id=held.pk, outcome="approve")
    assert exc.value.extra["reason"] == "expired"
    held.refresh_from_db()
    assert held.status == "expired" and not Decision.objects.exists()


def test_an_expired_item_is_never_approvable_even_before_the_sweep(world, people):
    expiry = T0 + timedelta(minutes=10)
    with time_machine.travel(T0, tick=False):
        rec = add(world, expires_at=expiry.isoformat())
        recommendation_claim(user=people.reviewer, queue=world.queue)
    with time_machine.travel(expiry + timedelta(seconds=1), tick=False):
        with pytest.raises(LeaseLost):
            recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
        # And a claim skips it.
        assert recommendation_claim(user=people.senior, queue=world.queue) is None
    rec.refresh_from_db()
    assert rec.status == "expired" and not Decision.objects.exists()


def test_queue_list_counts_expired_apart_from_waiting_and_decisions(world, people):
    with time_machine.travel(T0, tick=False):
        add(world, external_id="e", expires_at=(T0 + timedelta(minutes=1)).isoformat())
        add(world, external_id="w")
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        sla_sweep()
        (row,) = [r for r in queue_rows_for(user=people.admin) if r.queue == world.queue]
    assert (row.waiting, row.expired, row.overdue) == (1, 1, 0)
