"""The trend's numbers against hand-computed fixtures: buckets, boundaries, time zones, what
counts as a decision, each filter, and the memo of closed buckets against the raw numbers."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reviewqueue.exceptions import Forbidden, NotFound, ValidationFailed
from reviewqueue.models import MetricsBucket, Recommendation
from reviewqueue.reporting.buckets import buckets_for
from reviewqueue.reporting.parameters import TrendRequest, parse_trend_request
from reviewqueue.reporting.scope import TrendFilters, filters_for, metrics_scope
from reviewqueue.reporting.trend import trend_points
from tests.factories import ActionTypeFactory, QueueFactory, SourceFactory, UserFactory, member
from tests.selectors.metrics_world import at, decide, ingest

NOW = at("2026-11-20T12:00:00")


def trend(user, now=NOW, memo=True, **params):
    request = parse_trend_request(params, now=now)
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    points = trend_points(
        filters=filters_for(request, scope), buckets=buckets_for(request), now=now, memo=memo
    )
    return [p.as_json() for p in points]


def by_start(buckets):
    return {b["start"]: b for b in buckets}


# --- Parameters -------------------------------------------------------------------------------


def test_to_is_exclusive_so_october_is_from_the_first_to_the_first():
    request = parse_trend_request({"from": "2026-10-01", "to": "2026-11-01"}, now=NOW)
    buckets = buckets_for(request)
    assert len(buckets) == 31
    assert buckets[0].lo == at("2026-10-01T00:00:00")
    assert buckets[-1].hi == at("2026-11-01T00:00:00")
    month = buckets_for(
        parse_trend_request({"from": "2026-10-01", "to": "2026-11-01", "bucket": "month"}, now=NOW)
    )
    assert [(b.start, b.lo, b.hi) for b in month] == [
        (at("2026-10-01T00:00:00"), at("2026-10-01T00:00:00"), at("2026-11-01T00:00:00"))
    ]


def test_weeks_start_on_monday_and_the_first_week_counts_only_inside_the_range():
    request = parse_trend_request(
        {"from": "2026-10-01", "to": "2026-10-15", "bucket": "week"}, now=NOW
    )
    buckets = buckets_for(request)
    # 2026-10-01 is a Thursday: its week began on Monday 2026-09-28.
    assert [b.start.date() for b in buckets] == [
        date(2026, 9, 28),
        date(2026, 10, 5),
        date(2026, 10, 12),
    ]
    assert buckets[0].lo == at("2026-10-01T00:00:00")
    assert buckets[-1].hi == at("2026-10-15T00:00:00")


def test_default_range_is_the_last_30_days_including_today():
    request = parse_trend_request({}, now=NOW)
    assert (request.start, request.end, request.bucket, request.tz.key) == (
        date(2026, 10, 22),
        date(2026, 11, 21),
        "day",
        "UTC",
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01", "to": "2026-11-01"}, "from"),
        ({"from": "yesterday", "to": "2026-11-01"}, "from"),
        ({"from": "2026-10-01", "to": "20261101"}, "to"),
        ({"from": "2026-11-01", "to": "2026-11-01"}, "to"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-11-01"}, "to"),  # > 1000 day buckets
        ({"bucket": "hour"}, "bucket"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"model_version": "x" * 201}, "model_version"),
    ],
)
def test_bad_parameters_are_named(params, field):
    with pytest.raises(ValidationFailed) as caught:
        parse_trend_request(params, now=NOW)
    assert field in caught.value.errors


def test_a_thousand_buckets_is_the_limit():
    assert (
        len(buckets_for(parse_trend_request({"from": "2024-01-01", "to": "2026-09-27"}, now=NOW)))
        == 1000
    )
    with pytest.raises(ValidationFailed):
        parse_trend_request({"from": "2024-01-01", "to": "2026-09-28"}, now=NOW)
    # Weeks and months go further back within the same limit.
    assert parse_trend_request(
        {"from": "2000-01-01", "to": "2026-11-01", "bucket": "month"}, now=NOW
    )


# --- Hand-computed numbers ---------------------------------------------------------------------


def test_day_buckets_hand_computed(world, people):
    # Oct 1: approve (100 s), approve (200 s), modify (400 s); review 10, 20, 40 s.
    decide(world, decided_at=at("2026-10-01T09:00:00"), seconds=100, review_seconds=10)
    decide(world, decided_at=at("2026-10-01T10:00:00"), seconds=200, review_seconds=20)
    decide(
        world,
        decided_at=at("2026-10-01T23:59:59.999999"),
        outcome="modify",
        seconds=400,
        review_seconds=40,
    )
    # Oct 3 at midnight exactly: belongs to Oct 3, not Oct 2.
    decide(
        world, decided_at=at("2026-10-03T00:00:00"), outcome="reject", seconds=50, review_seconds=5
    )
    buckets = trend(people.admin, queue="refunds", **{"from": "2026-10-01", "to": "2026-10-04"})
    assert buckets == [
        {
            "start": "2026-10-01T00:00:00Z",
            "decisions": 3,
            "approved": 2,
            "modified": 1,
            "rejected": 0,
            "approval_rate": 0.6667,
            "modification_rate": 0.3333,
            "rejection_rate": 0.0,
            "acceptance_rate": 1.0,
            "median_seconds_to_decision": 200.0,
            "p90_seconds_to_decision": 360.0,
            "median_review_seconds": 20.0,
            "flagged": 0,
        },
        {
            "start": "2026-10-02T00:00:00Z",
            "decisions": 0,
            "approved": 0,
            "modified": 0,
            "rejected": 0,
            "approval_rate": None,
            "modification_rate": None,
            "rejection_rate": None,
            "acceptance_rate": None,
            "median_seconds_to_decision": None,
            "p90_seconds_to_decision": None,
            "median_review_seconds": None,
            "flagged": 0,
        },
        {
            "start": "2026-10-03T00:00:00Z",
            "decisions": 1,
            "approved": 0,
            "modified": 0,
            "rejected": 1,
            "approval_rate": 0.0,
            "modification_rate": 0.0,
            "rejection_rate": 1.0,
            "acceptance_rate": 0.0,
            "median_seconds_to_decision": 50.0,
            "p90_seconds_to_decision": 50.0,
            "median_review_seconds": 5.0,
            "flagged": 0,
        },
    ]


def test_range_edges_are_from_inclusive_to_exclusive(world, people):
    decide(world, decided_at=at("2026-09-30T23:59:59"))  # before
    decide(world, decided_at=at("2026-10-01T00:00:00"))  # first instant: in
    decide(world, decided_at=at("2026-10-31T23:59:59.999999"))  # last instant: in
    decide(world, decided_at=at("2026-11-01T00:00:00"))  # `to`: out
    (month,) = trend(people.admin, bucket="month", **{"from": "2026-10-01", "to": "2026-11-01"})
    assert month["start"] == "2026-10-01T00:00:00Z" and month["decisions"] == 2


def test_only_human_decisions_count(world, people):
    day = at("2026-10-05T12:00:00")
    decide(world, decided_at=day, outcome="approve")
    decide(world, decided_at=day, outcome="approve", kind="policy", review_seconds=None)
    decide(world, decided_at=day, outcome="reject", kind="external", review_seconds=None)
    expired = ingest(world.source, world.queue, created_at=day - timedelta(hours=1))
    Recommendation.objects.filter(pk=expired.pk).update(status="expired", closed_at=day)
    (bucket,) = trend(people.admin, **{"from": "2026-10-05", "to": "2026-10-06"})
    assert (bucket["decisions"], bucket["approved"], bucket["rejected"]) == (1, 1, 0)
    assert bucket["approval_rate"] == 1.0


def test_modified_is_not_approved(world, people):
    day = at("2026-10-05T12:00:00")
    for outcome in ["approve", "modify", "modify", "reject"]:
        decide(world, decided_at=day, outcome=outcome)
    (bucket,) = trend(people.admin, **{"from": "2026-10-05", "to": "2026-10-06"})
    assert (bucket["approved"], bucket["modified"], bucket["rejected"]) == (1, 2, 1)
    assert (bucket["approval_rate"], bucket["modification_rate"]) == (0.25, 0.5)
    assert (bucket["rejection_rate"], bucket["acceptance_rate"]) == (0.25, 0.75)


def test_days_across_the_end_of_dst_in_amsterdam(world, people):
    # Europe/Amsterdam leaves summer time on Sunday 2026-10-25 at 03:00 CEST (01:00 UTC):
    # that local day runs from 2026-10-24T22:00Z to 2026-10-25T23:00Z, 25 hours.
    decide(world, decided_at=at("2026-10-24T21:59:59"))  # Oct 24, 23:59:59 CEST
    decide(world, decided_at=at("2026-10-24T22:00:00"))  # Oct 25, 00:00 CEST
    decide(world, decided_at=at("2026-10-25T01:30:00"))  # Oct 25, 02:30 CET (the repeated hour)
    decide(world, decided_at=at("2026-10-25T22:59:59"))  # Oct 25, 23:59:59 CET
    decide(world, decided_at=at("2026-10-25T23:00:00"))  # Oct 26, 00:00 CET
    buckets = trend(
        people.admin, tz="Europe/Amsterdam", **{"from": "2026-10-24", "to": "2026-10-27"}
    )
    assert [(b["start"], b["decisions"]) for b in buckets] == [
        ("2026-10-23T22:00:00Z", 1),
        ("2026-10-24T22:00:00Z", 3),
        ("2026-10-25T23:00:00Z", 1),
    ]
    # The same decisions in UTC days.
    utc = trend(people.admin, **{"from": "2026-10-24", "to": "2026-10-27"})
    assert [(b["start"], b["decisions"]) for b in utc] == [
        ("2026-10-24T00:00:00Z", 2),
        ("2026-10-25T00:00:00Z", 3),
        ("2026-10-26T00:00:00Z", 0),
    ]


def test_start_of_dst_and_months_in_a_local_zone(world, people):
    # Spring forward on 2026-03-29: that Amsterdam day is 23 hours.
    request = parse_trend_request(
        {"from": "2026-03-29", "to": "2026-03-31", "tz": "Europe/Amsterdam"}, now=NOW
    )
    (first, second) = buckets_for(request)
    assert first.hi - first.lo == timedelta(hours=23)
    assert second.hi - second.lo == timedelta(hours=24)
    months = buckets_for(
        parse_trend_request(
            {"from": "2026-10-01", "to": "2026-12-01", "tz": "Europe/Amsterdam", "bucket": "month"},
            now=NOW,
        )
    )
    assert [m.start for m in months] == [at("2026-09-30T22:00:00"), at("2026-10-31T23:00:00")]


def test_a_midnight_that_does_not_exist_starts_the_day_at_the_change():
    # America/Santiago moves clocks from 00:00 to 01:00 on 2026-09-06.
    request = parse_trend_request(
        {"from": "2026-09-05", "to": "2026-09-07", "tz": "America/Santiago"}, now=NOW
    )
    (first, second) = buckets_for(request)
    assert first.hi == second.lo == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert second.hi - second.lo == timedelta(hours=23)


def test_each_filter(world, people):
    day = at("2026-10-05T12:00:00")
    alice = UserFactory(username="alice")
    other_type = ActionTypeFactory(name="refund.cancel", payload_schema={"type": "object"})
    QueueFactory(slug="refunds", action_types=[other_type])
    decide(world, decided_at=day, reviewer=alice)
    decide(world, decided_at=day, model={"name": "refund-agent", "version": "2026-11-01"})
    decide(world, decided_at=day, model={"name": "other-agent", "version": "2026-10-01"})
    decide(world, decided_at=day, prompt_version="refund-v8")
    decide(world, decided_at=day, queue=world.other_queue)
    second_source = SourceFactory(name="second-bot", queues=[world.queue])
    decide(world, decided_at=day, source=second_source)
    rec = ingest(world.source, world.queue, action={"type": "refund.cancel", "payload": {}})
    Recommendation.objects.filter(pk=rec.pk).update(created_at=day - timedelta(minutes=1))
    rec.refresh_from_db()
    from reviewqueue.domain.rows import decision_row

    decision_row(rec, kind="human", outcome="reject", payload=None, payload_hash="", now=day).save()

    def count(**params):
        (bucket,) = trend(people.admin, **{"from": "2026-10-05", "to": "2026-10-06"}, **params)
        return bucket["decisions"]

    assert count() == 7
    assert count(queue="refunds") == 6
    assert count(queue="other") == 1
    assert count(reviewer="alice") == 1
    assert count(model_version="2026-11-01") == 1
    assert count(model_name="other-agent") == 1
    assert count(model_name="refund-agent", model_version="2026-10-01") == 5
    assert count(prompt_version="refund-v8") == 1
    assert count(source="second-bot") == 1
    assert count(source="refund-bot") == 5
    assert count(action_type="refund.cancel") == 1
    assert count(action_type="refund.issue") == 6
    assert count(queue="refunds", model_version="nope") == 0
    for name in ("queue", "action_type", "source", "reviewer"):
        with pytest.raises(ValidationFailed) as caught:
            count(**{name: "nope"})
        assert list(caught.value.errors) == [name]


# --- Who sees what -------------------------------------------------------------------------------


def test_reviewers_see_only_their_own_numbers_in_their_queues(world, people):
    rita = people.reviewer
    alice = UserFactory(username="alice")  # a second reviewer of refunds
    member(alice, world.queue)
    day = at("2026-10-05T12:00:00")
    decide(world, decided_at=day, reviewer=rita)
    decide(world, decided_at=day, reviewer=alice)
    decide(world, decided_at=day, reviewer=alice, outcome="reject")
    (bucket,) = trend(rita, **{"from": "2026-10-05", "to": "2026-10-06"})
    assert (bucket["decisions"], bucket["approved"]) == (1, 1)
    (bucket,) = trend(
        rita, reviewer="rita", queue="refunds", **{"from": "2026-10-05", "to": "2026-10-06"}
    )
    assert bucket["decisions"] == 1
    with pytest.raises(Forbidden):
        trend(rita, reviewer="alice", **{"from": "2026-10-05", "to": "2026-10-06"})
    # Issue 14 #17: a queue rita is not in answers as one that does not exist.
    with pytest.raises(NotFound):
        trend(rita, queue="other", **{"from": "2026-10-05", "to": "2026-10-06"})
    with pytest.raises(NotFound):
        trend(rita, queue="no-such-queue", **{"from": "2026-10-05", "to": "2026-10-06"})
    scope = metrics_scope(user=rita)
    assert scope.own_numbers_only and scope.reviewer == rita and scope.queues == [world.queue]


def test_someone_in_no_queue_sees_nothing(world):
    loner = UserFactory(username="loner")
    decide(world, decided_at=at("2026-10-05T12:00:00"), reviewer=loner)
    (bucket,) = trend(loner, **{"from": "2026-10-05", "to": "2026-10-06"})
    assert bucket["decisions"] == 0 and bucket["approval_rate"] is None


def test_auditors_see_every_queue_and_reviewer(world, people):
    auditor = people.auditor
    bob = UserFactory(username="bob")
    decide(world, decided_at=at("2026-10-05T12:00:00"), reviewer=bob)
    decide(world, decided_at=at("2026-10-05T12:00:00"), queue=world.other_queue)
    (bucket,) = trend(auditor, **{"from": "2026-10-05", "to": "2026-10-06"})
    assert bucket["decisions"] == 2
    (bucket,) = trend(auditor, reviewer="bob", **{"from": "2026-10-05", "to": "2026-10-06"})
    assert bucket["decisions"] == 1


# --- The memo of closed buckets ---------------------------------------------------------


def test_closed_buckets_are_remembered_and_open_ones_are_not(world, people):
    now = at("2026-10-03T12:00:00")
    decide(world, decided_at=at("2026-10-01T12:00:00"))
    decide(world, decided_at=at("2026-10-03T08:00:00"))
    first = trend(people.admin, now=now, **{"from": "2026-10-01", "to": "2026-10-05"})
    remembered = sorted(MetricsBucket.objects.values_list("lo", "decisions"))
    assert remembered == [(at("2026-10-01T00:00:00"), 1), (at("2026-10-02T00:00:00"), 0)]
    # Later today: the open day changes, the remembered ones are served as they were.
    decide(world, decided_at=at("2026-10-03T11:00:00"))
    again = trend(people.admin, now=now, **{"from": "2026-10-01", "to": "2026-10-05"})
    assert [b["decisions"] for b in first] == [1, 0, 1, 0]
    assert [b["decisions"] for b in again] == [1, 0, 2, 0]


def test_a_day_is_closed_only_some_minutes_after_it_ends(world, people):
    decide(world, decided_at=at("2026-10-01T23:59:00"))
    trend(people.admin, now=at("2026-10-02T00:04:00"), **{"from": "2026-10-01", "to": "2026-10-02"})
    assert not MetricsBucket.objects.exists()
    trend(people.admin, now=at("2026-10-02T00:05:00"), **{"from": "2026-10-01", "to": "2026-10-02"})
    assert MetricsBucket.objects.count() == 1


def test_memo_reads_are_few_statements(world, people, django_assert_max_num_queries):
    for day in range(1, 29):
        decide(world, decided_at=at(f"2026-10-{day:02d}T12:00:00"))
    params = {"queue": "refunds", "from": "2026-10-01", "to": "2026-10-31"}
    trend(people.admin, now=NOW, **params)
    # Queue lookup, then one read of 30 remembered buckets; nothing is open.
    with django_assert_max_num_queries(2):
        trend(people.admin, now=NOW, **params)


def test_memo_always_equals_the_raw_numbers_after_any_sequence_of_decisions(world, people):
    """A seeded random walk: decisions arrive as the clock moves on (approve, modify and
    reject, policy ones too, several reviewers and model versions), and at random moments
    the trend is read through the memo in a random time zone, bucket and filter; each time
    it must equal the numbers computed from the decisions alone."""
    rng = random.Random(20261025)
    reviewers = [UserFactory(username=f"r{i}") for i in range(3)]
    clock = at("2026-10-20T00:00:00")
    zones = ["UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata"]
    for step in range(120):
        clock += timedelta(seconds=rng.randint(60, 4 * 3600))
        decide(
            world,
            decided_at=clock,
            outcome=rng.choice(["approve", "approve", "modify", "reject"]),
            kind=rng.choice(["human"] * 5 + ["policy"]),
            seconds=rng.uniform(1, 7200),
            review_seconds=rng.uniform(1, 600),
            reviewer=rng.choice(reviewers),
            model={"name": "refund-agent", "version": rng.choice(["v1", "v2"])},
            queue=rng.choice([world.queue, world.queue, world.other_queue]),
        )
        if step % 7 == 0:
            params = {
                "tz": rng.choice(zones),
                "bucket": rng.choice(["day", "week", "month"]),
                "from": "2026-10-19",
                "to": "2026-11-30",
            }
            params.update(
                rng.choice([{}, {"queue": "refunds"}, {"model_version": "v2"}, {"reviewer": "r1"}])
            )
            now = clock + timedelta(minutes=rng.randint(0, 20))
            assert trend(people.admin, now=now, **params) == trend(
                people.admin, now=now, memo=False, **params
            )
    assert MetricsBucket.objects.exists()


def test_filters_signature_depends_on_every_filter():
    base = TrendFilters(queue_ids=(1, 2))
    assert base.signature() == TrendFilters(queue_ids=(2, 1)).signature()
    variants = [
        TrendFilters(queue_ids=(1,)),
        TrendFilters(queue_ids=(1, 2), action_type_id=1),
        TrendFilters(queue_ids=(1, 2), source_id=1),
        TrendFilters(queue_ids=(1, 2), model_name="m"),
        TrendFilters(queue_ids=(1, 2), model_version="m"),
        TrendFilters(queue_ids=(1, 2), prompt_version="m"),
        TrendFilters(queue_ids=(1, 2), reviewer_id=1),
    ]
    assert len({base.signature(), *(v.signature() for v in variants)}) == len(variants) + 1


def test_trend_request_round_trips_through_its_query():
    request = TrendRequest(
        start=date(2026, 10, 1),
        end=date(2026, 11, 1),
        bucket="week",
        tz=ZoneInfo("Europe/Amsterdam"),
        queue="refunds",
    )
    assert parse_trend_request(request.query(), now=NOW) == request


def test_report_counts_through_the_cache_equal_the_raw_counts(world, people):
    """The same seeded walk for the additive report sections (reasons, edited fields,
    model and prompt versions): the closed part of the range comes from the cache, the open
    rest from the decisions; the sum must always equal counting the whole range at once."""
    from reviewqueue.reporting.sections import (
        _field_counts,
        _reason_counts,
        _version_counts,
    )
    from reviewqueue.reporting.tally import tallied

    rng = random.Random(99)
    clock = at("2026-10-20T00:00:00")
    lo, hi = at("2026-10-19T00:00:00"), at("2026-11-30T00:00:00")
    for step in range(100):
        clock += timedelta(seconds=rng.randint(60, 6 * 3600))
        outcome = rng.choice(["approve", "modify", "reject"])
        path = rng.choice(["amount", "note", "order_id"])
        decide(
            world,
            decided_at=clock,
            outcome=outcome,
            kind=rng.choice(["human", "human", "human", "external"]),
            reason_code="" if outcome == "approve" else rng.choice(["wrong_amount", "other"]),
            diff=[{"path": path, "op": "replace", "old": 1, "new": 2}]
            if outcome == "modify"
            else [],
            is_cosmetic=(path == "note") if outcome == "modify" else None,
            model={"name": "refund-agent", "version": rng.choice(["v1", "v2"])},
            prompt_version=rng.choice(["p1", "p2"]),
            queue=rng.choice([world.queue, world.other_queue]),
        )
        if step % 9 == 0:
            now = clock + timedelta(minutes=rng.randint(0, 30))
            filters = rng.choice(
                [
                    TrendFilters(queue_ids=(world.queue.pk, world.other_queue.pk)),
                    TrendFilters(queue_ids=(world.queue.pk,)),
                ]
            )
            for section, count in [
                ("reasons", _reason_counts(filters)),
                ("fields", _field_counts(filters)),
                ("models", _version_counts(filters, ("model_name", "model_version"))),
                ("prompts", _version_counts(filters, ("prompt_version",))),
            ]:
                assert tallied(section, filters, lo, hi, count, now) == count(lo, hi), section


def test_closed_counts_are_read_from_the_cache(world, people, django_assert_num_queries):
    from reviewqueue.reporting.sections import reasons

    decide(world, decided_at=at("2026-10-05T12:00:00"), outcome="reject", reason_code="other")
    filters = TrendFilters(queue_ids=(world.queue.pk,))
    lo, hi = at("2026-10-01T00:00:00"), at("2026-10-10T00:00:00")
    first = reasons(filters, lo, hi, now=NOW)
    with django_assert_num_queries(0):
        assert reasons(filters, lo, hi, now=NOW) == first
    assert [(r.reason_code, r.count) for r in first] == [("other", 1)]


def test_warming_remembers_the_default_views(world, people, django_assert_max_num_queries):
    from reviewqueue.reporting.warm import metrics_warm
    from reviewqueue.tasks import metrics_warm as warm_task

    decide(world, decided_at=at("2026-11-10T12:00:00"))
    old = MetricsBucket.objects.create(
        signature="x" * 64,
        lo=at("2026-01-01T00:00:00"),
        hi=at("2026-01-02T00:00:00"),
        decisions=0,
        approved=0,
        modified=0,
        rejected=0,
        computed_at=NOW - timedelta(days=91),
    )
    remembered = metrics_warm(now=NOW, days=60)
    assert remembered == MetricsBucket.objects.count() > 0
    assert not MetricsBucket.objects.filter(pk=old.pk).exists()
    # Per queue and for both together: the default day buckets are all remembered.
    with django_assert_max_num_queries(3):
        (bucket,) = [
            b
            for b in trend(people.admin, now=NOW, queue="refunds")
            if b["start"] == "2026-11-10T00:00:00Z"
        ]
    assert bucket["decisions"] == 1
    assert warm_task.name == "reviewqueue.metrics_warm"


def test_report_counts_survive_a_broken_cache(world, people, monkeypatch):
    from reviewqueue.reporting import tally
    from reviewqueue.reporting.sections import reasons

    class Broken:
        def get(self, *args, **kwargs):
            raise ConnectionError("redis is down")

        set = get

    decide(world, decided_at=at("2026-10-05T12:00:00"), outcome="reject", reason_code="other")
    monkeypatch.setattr(tally, "cache", Broken())
    rows = reasons(
        TrendFilters(queue_ids=(world.queue.pk,)), at("2026-10-01T00:00:00"), NOW, now=NOW
    )
    assert [(r.reason_code, r.count) for r in rows] == [("other", 1)]
