"""QA sampling of auto-executed items, QA verdicts, and the QA-rejection breaker."""

import math
import random

import pytest

from reviewqueue.exceptions import Conflict, Forbidden, ValidationFailed
from reviewqueue.models import AuditEvent, Queue, Recommendation, StageChange
from reviewqueue.selectors.targets import targets_forget
from reviewqueue.services import qa
from reviewqueue.services.breaker import breaker_resume
from reviewqueue.services.ingest import recommendation_ingest, recommendation_ingest_batch
from reviewqueue.services.qa import qa_review_record
from tests.conftest import item

AUTO = {"risk_score": 0.1, "confidence": 0.99}


@pytest.fixture
def seeded():
    previous = qa.qa_random()
    yield qa.qa_random(random.Random(20261123))
    qa.qa_random(previous)


@pytest.fixture
def supervised(world):
    Queue.objects.filter(pk=world.queue.pk).update(stage="supervised")
    world.queue.refresh_from_db()
    return world


def binomial_interval(n: int, p: float, z: float = 3.2905) -> tuple[float, float]:
    """The two-sided 99.9% interval of a Binomial(n, p) count (normal approximation, with
    continuity correction; n*p = 500 makes it accurate)."""
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    return mean - z * sd - 0.5, mean + z * sd + 0.5


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_sampling_over_ten_thousand_auto_items_stays_within_binomial_bounds(
    supervised, seeded, rate
):
    Queue.objects.filter(pk=supervised.queue.pk).update(qa_sample_rate=rate)
    n = 10_000
    for start in range(0, n, 1000):
        results = recommendation_ingest_batch(
            source=supervised.source,
            items=[item(external_id=f"a-{i}", **AUTO) for i in range(start, start + 1000)],
        )
        assert {r.route for r in results} == {"auto"}
    sampled = Recommendation.objects.filter(qa_sampled=True).count()
    low, high = binomial_interval(n, rate)
    assert low <= sampled <= high, (sampled, low, high)


def test_the_same_seed_samples_the_same_items(supervised):
    picks = []
    for seed in (7, 7):
        qa.qa_random(random.Random(seed))
        picks.append([qa.qa_should_sample(0.3) for _ in range(200)])
    assert picks[0] == picks[1] and 20 < sum(picks[0]) < 100


def test_only_auto_approved_items_are_sampled(world, seeded):
    Queue.objects.filter(pk=world.queue.pk).update(qa_sample_rate=1.0)
    rec, _ = recommendation_ingest(source=world.source, data=item(**AUTO))
    assert rec.route == "review" and not rec.qa_sampled
    Queue.objects.filter(pk=world.queue.pk).update(stage="supervised")
    targets_forget()  # changed behind the services' back
    auto, _ = recommendation_ingest(source=world.source, data=item(external_id="b", **AUTO))
    assert auto.route == "auto" and auto.qa_sampled
    assert Recommendation.objects.get(pk=auto.pk).qa_sampled
    created = AuditEvent.objects.get(recommendation=auto, action="recommendation.created")
    assert created.data["qa_sampled"] is True


def test_rate_zero_never_samples(supervised):
    Queue.objects.filter(pk=supervised.queue.pk).update(qa_sample_rate=0)
    recommendation_ingest_batch(
        source=supervised.source, items=[item(external_id=f"z{i}", **AUTO) for i in range(50)]
    )
    assert not Recommendation.objects.filter(qa_sampled=True).exists()


def sampled_items(world, count: int) -> list[Recommendation]:
    Queue.objects.filter(pk=world.queue.pk).update(stage="supervised", qa_sample_rate=1.0)
    recommendation_ingest_batch(
        source=world.source, items=[item(external_id=f"q{i}", **AUTO) for i in range(count)]
    )
    return list(Recommendation.objects.filter(qa_sampled=True).order_by("external_id"))


def test_a_reviewer_marks_a_sampled_item_once_audited(world, people):
    (rec,) = sampled_items(world, 1)
    review = qa_review_record(
        user=people.reviewer,
        recommendation_id=rec.pk,
        verdict="incorrect",
        reason_code="wrong_amount",
        comment="Refunded twice.",
    )
    assert (review.verdict, review.reason_code, review.reviewer) == (
        "incorrect",
        "wrong_amount",
        people.reviewer,
    )
    event = AuditEvent.objects.get(action="qa.reviewed")
    assert event.recommendation_id == rec.pk and event.data["verdict"] == "incorrect"
    with pytest.raises(Conflict):
        qa_review_record(user=people.reviewer, recommendation_id=rec.pk, verdict="correct")


def test_qa_verdict_rules(world, people):
    (rec,) = sampled_items(world, 1)
    with pytest.raises(ValidationFailed) as exc:
        qa_review_record(user=people.reviewer, recommendation_id=rec.pk, verdict="incorrect")
    assert "reason_code" in exc.value.errors
    with pytest.raises(ValidationFailed):
        qa_review_record(user=people.reviewer, recommendation_id=rec.pk, verdict="meh")
    with pytest.raises(Forbidden):
        qa_review_record(user=people.outsider, recommendation_id=rec.pk, verdict="correct")
    Queue.objects.filter(pk=world.queue.pk).update(stage="approval")
    reviewed, _ = recommendation_ingest(source=world.source, data=item(external_id="h"))
    with pytest.raises(Conflict):
        qa_review_record(user=people.reviewer, recommendation_id=reviewed.pk, verdict="correct")


def test_qa_rejections_trip_the_breaker_demote_and_an_admin_resumes(world, people):
    items = sampled_items(world, 10)
    Queue.objects.filter(pk=world.queue.pk).update(
        breaker_window=10, breaker_max_qa_rejection_rate=0.1
    )
    verdicts = ["correct"] * 8 + ["incorrect"] * 2  # 20% > 10%, on the 10th verdict
    for rec, verdict in zip(items, verdicts, strict=True):
        queue = Queue.objects.get(pk=world.queue.pk)
        assert queue.breaker_tripped_at is None
        qa_review_record(
            user=people.reviewer,
            recommendation_id=rec.pk,
            verdict=verdict,
            reason_code="wrong_amount" if verdict == "incorrect" else "",
        )
    queue = Queue.objects.get(pk=world.queue.pk)
    assert queue.breaker_tripped_at is not None and "QA rejection rate 20%" in queue.breaker_reason
    tripped = AuditEvent.objects.get(action="breaker.tripped")
    assert tripped.data == {
        "rejected": 2,
        "window": 10,
        "rate": 0.2,
        "threshold": 0.1,
        "kind": "qa_rejection",
    }
    change = StageChange.objects.get(kind="breaker")
    assert (change.from_stage, change.to_stage) == ("supervised", "approval")
    assert change.evidence["kind"] == "qa_rejection" and change.actor_label == "breaker"
    demoted, _ = recommendation_ingest(source=world.source, data=item(external_id="d", **AUTO))
    assert demoted.route == "review"  # behaves as approval while tripped
    breaker_resume(queue=queue, user=people.admin, comment="prompt fixed")
    resume = StageChange.objects.get(kind="resume")
    assert (resume.from_stage, resume.to_stage) == ("approval", "supervised")
    again, _ = recommendation_ingest(source=world.source, data=item(external_id="r", **AUTO))
    assert again.route == "auto"


def test_qa_breaker_needs_a_minimum_sample(world, people):
    items = sampled_items(world, 3)
    Queue.objects.filter(pk=world.queue.pk).update(breaker_window=50)
    for rec in items:
        qa_review_record(
            user=people.reviewer,
            recommendation_id=rec.pk,
            verdict="incorrect",
            reason_code="other",
        )
    assert Queue.objects.get(pk=world.queue.pk).breaker_tripped_at is None
