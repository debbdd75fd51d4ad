"""Readiness gates on both sides of each threshold (pure, domain/readiness.py), and the
evidence read for them (reporting/readiness.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from reviewqueue.domain.readiness import (
    DEFAULTS,
    MET,
    NO_DATA,
    UNMET,
    ApprovalEvidence,
    Day,
    ShadowEvidence,
    SupervisedEvidence,
    approval_rate_gate,
    cosmetic_gate,
    error_rate_gate,
    incidents_gate,
    interventions_gate,
    readiness_config,
    readiness_evaluate,
    shadow_agreement_gate,
)
from reviewqueue.models import AuditEvent, Execution, QaReview, Recommendation
from reviewqueue.reporting.readiness import readiness_for
from tests.factories import UserFactory
from tests.selectors.metrics_world import at, decide

NOW = at("2026-11-20T12:00:00")
CONFIG = readiness_config({})


def days(rates, start=date(2026, 10, 21), per_day=100):
    """One Day per rate (None: no decisions that day)."""
    return [
        Day(
            start + timedelta(days=i),
            0 if r is None else per_day,
            0 if r is None else round(r * per_day),
        )
        for i, r in enumerate(rates)
    ]


# --- Configuration ------------------------------------------------------------------------------


def test_defaults_are_the_spec_stages_table():
    assert CONFIG["shadow_min_agreement"] == 0.85 and CONFIG["shadow_window"] == 200
    assert CONFIG["approval_min_rate"] == 0.95 and CONFIG["approval_days"] == 30
    assert CONFIG["supervised_max_error_rate"] == 0.001 and CONFIG["supervised_days"] == 90


def test_queue_overrides_apply_and_nonsense_is_ignored():
    config = readiness_config(
        {
            "shadow_min_agreement": 0.9,
            "shadow_window": 50,
            "approval_days": 0,  # out of range
            "approval_min_rate": 1.5,  # out of range
            "supervised_days": "90",  # wrong type
            "supervised_max_error_rate": True,  # wrong type
            "unknown": 1,
        }
    )
    assert config == {**DEFAULTS, "shadow_min_agreement": 0.9, "shadow_window": 50}


# --- Shadow -> approval ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agreed", "compared", "status"),
    [(170, 200, MET), (169, 200, UNMET), (199, 199, UNMET), (0, 0, NO_DATA)],
)
def test_shadow_agreement_gate(agreed, compared, status):
    gate = shadow_agreement_gate(CONFIG, ShadowEvidence(agreed=agreed, compared=compared))
    assert gate.status == status
    assert gate.label == "AI/human agreement ≥ 85% over the last 200 compared items"


def test_shadow_gate_explains_a_short_window():
    gate = shadow_agreement_gate(CONFIG, ShadowEvidence(agreed=57, compared=57))
    assert gate.evidence == (
        "57 of 57 compared items agreed (100%); only 57 of the 200 compared items needed so far."
    )


# --- Approval -> supervised ---------------------------------------------------------------------------------


def test_approval_rate_met_at_exactly_the_threshold_every_day():
    gate = approval_rate_gate(CONFIG, days([0.95] * 30))
    assert gate.status == MET
    assert gate.evidence == "30 of 30 days met; lowest 95% on 2026-10-21."


def test_approval_rate_one_day_below_is_unmet_and_named():
    rates = [0.97] * 30
    rates[12] = 0.94
    gate = approval_rate_gate(CONFIG, days(rates))
    assert gate.status == UNMET
    assert gate.evidence == "29 of 30 days met; lowest 94% on 2026-11-02."
    assert gate.numbers["lowest_day"] == "2026-11-02" and gate.numbers["days_met"] == 29


def test_approval_rate_like_the_issue_example():
    rates = [0.99] * 27 + [0.93, 0.91, 0.94]
    gate = approval_rate_gate(CONFIG, days(rates, start=date(2026, 10, 5)))
    assert gate.evidence == "27 of 30 days met; lowest 91% on 2026-11-02."


def test_a_day_without_decisions_is_not_met():
    gate = approval_rate_gate(CONFIG, days([1.0] * 29 + [None]))
    assert gate.status == UNMET
    assert gate.evidence.startswith("29 of 30 days met; 1 day without decisions;")


def test_no_decisions_at_all_is_no_data():
    assert approval_rate_gate(CONFIG, days([None] * 30)).status == NO_DATA


@pytest.mark.parametrize(
    ("modified", "cosmetic", "status"),
    [(2, 1, MET), (100, 49, UNMET), (0, 0, NO_DATA), (10, 10, MET)],
)
def test_modifications_mostly_cosmetic(modified, cosmetic, status):
    assert cosmetic_gate(CONFIG, modified, cosmetic).status == status


def test_cosmetic_evidence():
    assert cosmetic_gate(CONFIG, 100, 83).evidence == "83% of modifications cosmetic (83 of 100)."


def test_no_modifications_is_no_data_yet_never_met():
    gate = cosmetic_gate(CONFIG, 0, 0)
    assert gate.status == NO_DATA and gate.status_label == "no data yet"
    assert gate.evidence == "No modifications in the last 30 full days, so nothing to judge yet."


def test_incidents_gate_counts_high_incidents():
    assert incidents_gate(CONFIG, None).status == NO_DATA
    assert incidents_gate(CONFIG, 0).status == MET
    one = incidents_gate(CONFIG, 1)
    assert one.status == UNMET and one.status_label == "not met"
    assert one.evidence.startswith("1 high-severity incident recorded")
    assert one.label == "Zero high-severity incidents in the last 30 full days and today"


def test_every_gate_says_which_days_it_looks_at():
    approval = ApprovalEvidence(days=days([1.0] * 30), modified=2, cosmetic=2, incidents=0)
    gates = readiness_evaluate(stage="approval", config=CONFIG, approval=approval).gates
    rate, cosmetic, incidents = gates
    assert rate.label.endswith("on each of the last 30 full days, today excluded")
    assert rate.window == "last 30 full days (UTC), 2026-10-21 to 2026-11-19, today excluded"
    assert cosmetic.window == rate.window
    assert incidents.window == "last 30 full days (UTC), 2026-10-21 to 2026-11-19 and today"
    supervised_gates = readiness_evaluate(
        stage="supervised", config=CONFIG, supervised=supervised(10, 0)
    ).gates
    assert all("full days" in g.label and "today excluded" in g.window for g in supervised_gates)


def test_status_labels_are_one_set():
    from reviewqueue.domain.readiness import STATUS_LABELS

    assert STATUS_LABELS == {MET: "met", UNMET: "not met", NO_DATA: "no data yet"}


# --- Supervised -> autonomous ---------------------------------------------------------------------------------


def supervised(auto, failed, qa=None, started_days_ago=120, interventions=0):
    window_start = NOW - timedelta(days=90)
    return SupervisedEvidence(
        auto_executed=auto,
        failed=failed,
        qa_rejected=qa,
        first_auto_at=None if started_days_ago is None else NOW - timedelta(days=started_days_ago),
        window_start=window_start,
        interventions=interventions,
    )


@pytest.mark.parametrize(
    ("evidence", "status"),
    [
        (supervised(1001, 1), MET),  # 0.0999% < 0.1%
        (supervised(1000, 1), UNMET),  # 0.1% is not below 0.1%
        (supervised(1001, 0, qa=1), MET),
        (supervised(1001, 1, qa=1), UNMET),  # QA rejections count when there are verdicts
        (supervised(5000, 0, started_days_ago=30), UNMET),  # not yet 90 days
        (supervised(0, 0, started_days_ago=None), NO_DATA),
    ],
)
def test_auto_execution_error_rate(evidence, status):
    assert error_rate_gate(CONFIG, evidence).status == status


def test_error_rate_evidence_says_qa_has_no_data():
    gate = error_rate_gate(CONFIG, supervised(2000, 1))
    assert gate.evidence == (
        "1 of 2000 auto-executed items failed or were marked incorrect (0.05%); "
        "QA verdicts: no data yet, so only execution failures are counted."
    )
    short = error_rate_gate(CONFIG, supervised(2000, 0, started_days_ago=10))
    assert "auto-executing only since 2026-11-10, not yet 90 days" in short.evidence


def test_manual_interventions():
    assert interventions_gate(CONFIG, 0).status == MET
    assert interventions_gate(CONFIG, 1).status == UNMET
    assert interventions_gate(CONFIG, 0, auto_executed=5).status == MET
    # Nothing ran unattended: "no interventions" says nothing.
    assert interventions_gate(CONFIG, 0, auto_executed=0).status == NO_DATA


# --- Whole readiness -------------------------------------------------------------------------------------------


def test_ready_only_when_every_gate_is_met():
    approval = ApprovalEvidence(days=days([1.0] * 30), modified=4, cosmetic=3, incidents=0)
    ready = readiness_evaluate(stage="approval", config=CONFIG, approval=approval)
    assert ready.ready and ready.next_stage == "supervised"
    assert ready.summary.startswith("Every gate is met")
    unknown = readiness_evaluate(
        stage="approval",
        config=CONFIG,
        approval=ApprovalEvidence(days=days([1.0] * 30), modified=0, cosmetic=0, incidents=0),
    )
    assert not unknown.ready  # no modifications at all: no data, not met
    assert unknown.summary == "Not ready for supervised: 1 without data yet."
    last = readiness_evaluate(stage="autonomous", config=CONFIG)
    assert last.next_stage is None and last.gates == [] and not last.ready


# --- Evidence from the database ----------------------------------------------------------------------------------


def test_shadow_evidence_compares_reported_and_blind_outcomes(world):
    world.queue.stage = "shadow"
    world.queue.readiness = {"shadow_window": 4}
    world.queue.save(update_fields=["stage", "readiness"])
    t = at("2026-11-19T12:00:00")
    decide(world, decided_at=t, kind="external", outcome="approve", review_seconds=None)
    decide(
        world,
        decided_at=t,
        kind="external",
        outcome="modify",
        is_cosmetic=True,
        review_seconds=None,
    )
    decide(
        world,
        decided_at=t,
        kind="external",
        outcome="modify",
        is_cosmetic=False,
        review_seconds=None,
    )
    blind = decide(world, decided_at=t, kind="human", outcome="reject")
    Recommendation.objects.filter(pk=blind.recommendation_id).update(route="shadow")
    decide(world, decided_at=t, kind="human", outcome="approve")  # a review item: not compared
    readiness = readiness_for(queue=world.queue, now=NOW)
    (gate,) = readiness.gates
    assert (gate.numbers["agreed"], gate.numbers["compared"]) == (2, 4)
    assert gate.status == UNMET and gate.label.endswith("over the last 4 compared items")


def test_approval_evidence_reads_the_last_whole_days(world):
    world.queue.readiness = {"approval_days": 3}
    world.queue.save(update_fields=["readiness"])
    for day in (17, 18, 19):
        for _ in range(19):
            decide(world, decided_at=at(f"2026-11-{day}T10:00:00"))
    decide(world, decided_at=at("2026-11-18T11:00:00"), outcome="modify", is_cosmetic=True)
    decide(world, decided_at=at("2026-11-18T12:00:00"), outcome="modify", is_cosmetic=False)
    decide(world, decided_at=at("2026-11-20T09:00:00"), outcome="reject")  # today: not counted
    readiness = readiness_for(queue=world.queue, now=NOW)
    rate, cosmetic, incidents = readiness.gates
    assert rate.status == UNMET
    assert rate.evidence == "2 of 3 days met; lowest 90.48% on 2026-11-18."  # 19 of 21
    assert rate.window == "last 3 full days (UTC), 2026-11-17 to 2026-11-19, today excluded"
    assert cosmetic.status == MET and cosmetic.numbers == {
        "modified": 2,
        "cosmetic": 1,
        "threshold": 0.5,
        "share": 0.5,
    }
    assert incidents.status == MET and incidents.numbers == {"incidents": 0}
    world.queue.readiness = {"approval_days": 3, "approval_min_rate": 0.9}
    assert readiness_for(queue=world.queue, now=NOW).gates[0].status == MET


def test_supervised_evidence_counts_failures_and_interventions(world):
    world.queue.stage = "supervised"
    world.queue.save(update_fields=["stage"])
    old = decide(world, decided_at=NOW - timedelta(days=100), kind="policy", review_seconds=None)
    recent = [
        decide(world, decided_at=NOW - timedelta(days=d), kind="policy", review_seconds=None)
        for d in (1, 2, 3)
    ]
    for decision, status in zip(recent, ["dead", "succeeded", "refused"], strict=True):
        Execution.objects.create(
            recommendation_id=decision.recommendation_id,
            queue=world.queue,
            by_policy=True,
            payload={},
            payload_hash="",
            idempotency_key=f"rq-{decision.recommendation_id}",
            status=status,
        )
    AuditEvent.objects.create(
        action="execution.retry_requested",
        actor_kind="user",
        actor_label="root",
        queue=world.queue,
        occurred_at=NOW - timedelta(days=5),
    )
    AuditEvent.objects.create(
        action="breaker.resumed",
        actor_kind="user",
        actor_label="root",
        queue=world.queue,
        occurred_at=NOW - timedelta(days=95),  # outside the window
    )
    # QA marked the dead one and the succeeded one incorrect: three items in error, not four.
    reviewer = UserFactory(username="qa")
    for decision, verdict in zip(recent[:2], ["incorrect", "incorrect"], strict=True):
        QaReview.objects.create(
            recommendation_id=decision.recommendation_id,
            queue=world.queue,
            verdict=verdict,
            reviewer=reviewer,
        )
    error_rate, interventions = readiness_for(queue=world.queue, now=NOW).gates
    assert error_rate.numbers["auto_executed"] == 3 and error_rate.numbers["failed"] == 2
    assert error_rate.numbers["qa_reviewed"] == 2 and error_rate.numbers["qa_rejected"] == 2
    assert error_rate.numbers["errors"] == 3
    assert "QA: 2 of 2 reviewed items marked incorrect" in error_rate.evidence
    assert error_rate.status == UNMET
    assert interventions.numbers == {"interventions": 1} and interventions.status == UNMET
    assert old.decided_at < NOW - timedelta(days=90)
    assert datetime(2026, 1, 1, tzinfo=UTC) < NOW


def test_incidents_gate_reads_high_incidents_from_the_window_start_through_today(world, people):
    from reviewqueue.models import Incident

    admin = people.admin
    world.queue.readiness = {"approval_days": 3}
    world.queue.save(update_fields=["readiness"])

    def record(severity, when):
        Incident.objects.create(
            queue=world.queue, severity=severity, summary="x", reported_by=admin, reported_at=when
        )

    record("high", at("2026-11-16T23:00:00"))  # before the window
    record("medium", at("2026-11-18T10:00:00"))  # not high
    record("low", at("2026-11-20T09:00:00"))
    incidents = readiness_for(queue=world.queue, now=NOW).gates[2]
    assert incidents.status == MET
    record("high", at("2026-11-20T09:00:00"))  # today counts: a fresh incident is not hidden
    incidents = readiness_for(queue=world.queue, now=NOW).gates[2]
    assert incidents.status == UNMET and incidents.numbers == {"incidents": 1}


def test_supervised_window_excludes_today(world):
    world.queue.stage = "supervised"
    world.queue.save(update_fields=["stage"])
    decide(world, decided_at=at("2026-11-20T09:00:00"), kind="policy", review_seconds=None)
    error_rate, interventions = readiness_for(queue=world.queue, now=NOW).gates
    assert error_rate.status == NO_DATA and interventions.status == NO_DATA
    assert error_rate.window.endswith("2026-08-22 to 2026-11-19, today excluded")
