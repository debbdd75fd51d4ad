"""The one transition function: the legal-moves table is the law for every status move."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviewqueue.models import AuditEvent, Recommendation
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.leases import leases_return_expired
from reviewqueue.services.review import (
    recommendation_claim,
    recommendation_decide,
    recommendation_escalate,
)
from reviewqueue.services.transitions import MoveNotInTable, move_one, require_legal
from reviewqueue.states import RECOMMENDATION_MOVES, Status
from tests.conftest import item
from tests.factories import UserFactory, member


def test_a_move_not_in_the_table_is_refused():
    assert (Status.DECIDED, Status.PENDING) not in RECOMMENDATION_MOVES
    with pytest.raises(MoveNotInTable, match="decided → pending"):
        require_legal([Status.DECIDED], Status.PENDING)
    with pytest.raises(MoveNotInTable):
        require_legal([], Status.PENDING)


def test_an_illegal_move_writes_nothing(world):
    reviewer = UserFactory(username="rita")
    member(reviewer, world.queue)
    rec, _ = recommendation_ingest(source=world.source, data=item())
    recommendation_claim(user=reviewer, queue=world.queue)
    recommendation_decide(user=reviewer, recommendation_id=rec.pk, outcome="approve")
    events = AuditEvent.objects.count()
    with pytest.raises(MoveNotInTable):
        move_one(rec.pk, sources=[Status.DECIDED], to=Status.PENDING, values={})
    rec.refresh_from_db()
    assert rec.status == Status.DECIDED
    assert AuditEvent.objects.count() == events


def test_a_row_that_moved_meanwhile_is_left_alone_and_not_audited(world):
    rec, _ = recommendation_ingest(source=world.source, data=item())
    audited = []
    moved = move_one(
        rec.pk,
        sources=[Status.IN_REVIEW],
        to=Status.DECIDED,
        values={"closed_at": timezone.now()},
        audit=lambda: audited.append(True),
    )
    assert moved is False and audited == []
    rec.refresh_from_db()
    assert rec.status == Status.PENDING and rec.closed_at is None


def test_the_lease_sweep_returns_each_item_where_it_came_from(world):
    rita, sam = UserFactory(username="rita"), UserFactory(username="sam")
    member(rita, world.queue)
    member(sam, world.queue, role="senior")
    sent_up, _ = recommendation_ingest(source=world.source, data=item(external_id="up"))
    plain, _ = recommendation_ingest(source=world.source, data=item(external_id="plain"))
    # Rita escalates the first item and the senior claims it; rita claims the second.
    assert recommendation_claim(user=rita, queue=world.queue).pk == sent_up.pk
    recommendation_escalate(user=rita, recommendation_id=sent_up.pk)
    assert recommendation_claim(user=sam, queue=world.queue).pk == sent_up.pk
    assert recommendation_claim(user=rita, queue=world.queue).pk == plain.pk
    later = timezone.now() + timedelta(hours=2)
    assert leases_return_expired(now=later) == 2
    statuses = dict(Recommendation.objects.values_list("external_id", "status"))
    assert statuses == {"up": Status.ESCALATED, "plain": Status.PENDING}
    holders = sorted(e.data["holder"] for e in AuditEvent.objects.filter(action="lease.expired"))
    assert holders == ["rita", "sam"]


def test_a_blind_review_whose_lease_ran_out_goes_back_to_the_shadow_items(world):
    world.queue.stage = "shadow"
    world.queue.blind_review = True
    world.queue.save()
    rita = UserFactory(username="rita")
    member(rita, world.queue)
    rec, _ = recommendation_ingest(source=world.source, data=item())
    assert rec.status == Status.SHADOW
    assert recommendation_claim(user=rita, queue=world.queue).pk == rec.pk
    assert leases_return_expired(now=timezone.now() + timedelta(hours=2)) == 1
    rec.refresh_from_db()
    assert rec.status == Status.SHADOW and rec.claimed_by_id is None


def test_both_expiry_paths_write_the_same_event(world):
    rita = UserFactory(username="rita")
    member(rita, world.queue)
    soon = (timezone.now() + timedelta(seconds=30)).isoformat()
    rec, _ = recommendation_ingest(source=world.source, data=item(expires_at=soon))
    recommendation_claim(user=rita, queue=world.queue)
    Recommendation.objects.filter(pk=rec.pk).update(expires_at=timezone.now())
    with pytest.raises(Exception, match="expired"):
        recommendation_decide(user=rita, recommendation_id=rec.pk, outcome="approve")
    event = AuditEvent.objects.get(action="recommendation.expired")
    assert event.data["from_status"] == Status.IN_REVIEW
    assert event.actor_label == "expiry"


def test_executions_have_their_table_too():
    from reviewqueue.services.transitions import require_execution_legal
    from reviewqueue.states import ExecutionStatus

    assert require_execution_legal([ExecutionStatus.DEAD], ExecutionStatus.PENDING) == ["dead"]
    with pytest.raises(MoveNotInTable, match="succeeded → running"):
        require_execution_legal([ExecutionStatus.SUCCEEDED], ExecutionStatus.RUNNING)
