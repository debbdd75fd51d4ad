"""Anomaly flags on the pages: the item page and the review page show each flag's kind and
sentence (only the kind to a viewer for whom the proposal is hidden), the sentence is
escaped, reports and the queue page count flagged items for the queues the person may see,
and the admin edits the flag settings through apply_config's rules.

Flagged items come from the ingest service itself (an autonomous queue with
`hard_confidence_floor`, an item under it), so the tests read what ingest writes."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.html import escape

from reviewqueue.models import (
    AuditEvent,
    Decision,
    Queue,
    QueueActionType,
    Recommendation,
)
from reviewqueue.reporting.flag_counts import flag_counts
from reviewqueue.services.anomaly import baselines_refresh
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from reviewqueue.states import Route, Status
from reviewqueue.templatetags.review_tags import FlagItem, flag_items
from tests.conftest import item
from tests.factories import ActionTypeFactory
from tests.web.test_admin import admin_client, queue_url, save

LOW_CONFIDENCE = "confidence 0.10 is below the queue's floor 0.50"
RISK_CEILING = "risk 0.95 is at or above the queue's hard ceiling 0.90"


def flag_queue(queue: Queue, **fields) -> Queue:
    Queue.objects.filter(pk=queue.pk).update(
        **{"stage": "autonomous", "hard_confidence_floor": 0.5, **fields}
    )
    queue.refresh_from_db()
    return queue


def ingest(world, external_id: str, *, source=None, **overrides) -> Recommendation:
    fields = {"confidence": 0.1, "risk_score": 0.05, **overrides}
    rec, created = recommendation_ingest(
        source=source or world.source, data=item(external_id=external_id, **fields)
    )
    assert created
    return rec


@pytest.fixture
def low(world) -> Recommendation:
    """An item of an autonomous queue whose confidence is under the queue's floor."""
    flag_queue(world.queue)
    rec = ingest(world, "low")
    assert (rec.route, rec.status) == (Route.REVIEW, Status.PENDING)
    assert rec.flags == [{"kind": "confidence_floor", "detail": LOW_CONFIDENCE}]
    return rec


# --- The item page and the review page ----------------------------------------------------------


def test_the_item_page_shows_the_flag_in_words_with_its_sentence(low, people, client):
    client.force_login(people.reviewer)
    html = client.get(f"/recommendations/{low.pk}/").content.decode()
    notice = html[html.index("data-flags") :]
    assert "Low confidence" in notice and escape(LOW_CONFIDENCE) in notice
    assert 'data-flag="confidence_floor"' in notice
    assert '<span class="tag tag-flagged">Flagged</span>' in html


def test_the_review_page_shows_the_flag_before_the_decision_buttons(low, people, client):
    client.force_login(people.reviewer)
    html = client.post("/queues/refunds/review/claim", follow=True).content.decode()
    assert f'data-rec="{low.pk}"' in html
    assert escape(LOW_CONFIDENCE) in html
    assert html.index("data-flags") < html.index('data-action="approve"')


def test_an_item_without_flags_shows_no_notice(world, people, client):
    flag_queue(world.queue, stage="approval")  # flags are raised only when items could run
    rec = ingest(world, "calm")
    assert rec.flags == []
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    for url in (f"/recommendations/{rec.pk}/", "/queues/refunds/review/"):
        html = client.get(url).content.decode()
        assert "data-flags" not in html and "tag-flagged" not in html


def test_a_blind_viewer_sees_the_flag_kinds_but_not_their_sentences(low, world, people, client):
    # No ingest writes a shadow item with flags (flags need a supervised or autonomous
    # stage, shadow items a shadow one); the pages hide the sentences anyway, since they
    # quote the proposal's numbers. The flags are ingest's own; only the route is set here.
    Recommendation.objects.filter(pk=low.pk).update(route=Route.SHADOW, status=Status.SHADOW)
    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=True)
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    for url in (f"/recommendations/{low.pk}/", "/queues/refunds/review/"):
        html = client.get(url).content.decode()
        assert "data-blind" in html, url
        assert "Low confidence" in html and 'data-flag="confidence_floor"' in html, url
        assert "only their kinds are shown" in html, url
        assert "below the queue" not in html and "0.10" not in html, url
    client.force_login(people.auditor)  # auditors see proposals, and so the sentences
    assert escape(LOW_CONFIDENCE) in client.get(f"/recommendations/{low.pk}/").content.decode()


def test_a_flag_sentence_quoting_written_names_is_escaped(world, people, client):
    field = '<script>alert("flag")</script>'
    probe = ActionTypeFactory(
        name="probe.measure",
        payload_schema={
            "type": "object",
            "required": [field],
            "properties": {field: {"type": "number"}},
        },
        cosmetic_fields=[],
    )
    QueueActionType.objects.create(queue=world.queue, action_type=probe)
    flag_queue(world.queue, hard_confidence_floor=None, anomaly={"fields": [field]})

    def measure(n: int, value: float) -> Recommendation:
        action = {"type": "probe.measure", "payload": {field: value}}
        return ingest(world, f"m-{n}", action=action, confidence=0.99)

    for n in range(10):
        assert measure(n, 10).flags == []
    baselines_refresh()
    rec = measure(10, 11)
    (flag,) = rec.flags
    assert flag["kind"] == "outlier" and flag["detail"].startswith(field)

    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    for url in (f"/recommendations/{rec.pk}/", "/queues/refunds/review/"):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html, url
        notice = html[html.index("data-flags") :]
        assert "Outlier" in notice and escape(flag["detail"]) in notice, url


# --- Reports and the queue page -------------------------------------------------------------------


@pytest.fixture
def flagged(world):
    """refunds: 'low' (confidence floor), 'both' (risk ceiling and confidence floor), 'fine'
    (not flagged, executes); other: 'o-low' (confidence floor)."""
    flag_queue(world.queue, hard_risk_ceiling=0.9)
    flag_queue(world.other_queue)
    recs = {
        "low": ingest(world, "low"),
        "both": ingest(world, "both", risk_score=0.95),
        "fine": ingest(world, "fine", confidence=0.99),
        "o-low": ingest(world, "o-low", source=world.other_source, queue="other"),
    }
    assert [f["kind"] for f in recs["both"].flags] == ["risk_ceiling", "confidence_floor"]
    assert recs["both"].route == Route.ESCALATED and recs["fine"].route == Route.AUTO
    return recs


def today() -> dict[str, str]:
    day = timezone.now().date()
    return {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}


def flag_rows(html: str) -> dict[str, str]:
    """The reports page's flags table: {queue slug: its row's HTML}."""
    table = re.search(r'data-table="flags".*?</table>', html, re.S)
    assert table, "no flags table"
    return dict(re.findall(r'<tr data-queue="([^"]+)">(.*?)</tr>', table.group(0), re.S))


REFUNDS = {"risk_ceiling": 1, "confidence_floor": 2, "outlier": 0, "volume": 0}
OTHER = {"risk_ceiling": 0, "confidence_floor": 1, "outlier": 0, "volume": 0}


def test_reports_count_flagged_items_of_the_reviewers_own_queues_only(flagged, people, client):
    client.force_login(people.reviewer)
    response = client.get("/reports/", today())
    assert response.status_code == 200
    counts = [(f.queue.slug, f.flagged, f.by_kind) for f in response.context["report"].flags]
    assert counts == [("refunds", 2, REFUNDS)]
    rows = flag_rows(response.content.decode())
    assert set(rows) == {"refunds"}
    assert '<td class="num" data-kind="confidence_floor">2</td>' in rows["refunds"]
    assert client.get("/reports/", {**today(), "queue": "other"}).status_code == 404

    lines = list(
        csv.reader(io.StringIO(client.get("/reports/flags.csv", today()).content.decode()))
    )
    assert lines == [
        ["queue", "flagged", "risk_ceiling", "confidence_floor", "outlier", "volume"],
        ["refunds", "2", "1", "2", "0", "0"],
    ]

    client.force_login(people.outsider)
    assert set(flag_rows(client.get("/reports/", today()).content.decode())) == {"other"}


def test_reports_count_flagged_items_of_every_queue_for_auditors(flagged, people, client):
    client.force_login(people.auditor)
    report = client.get("/reports/", today()).context["report"]
    assert {f.queue.slug: (f.flagged, f.by_kind) for f in report.flags} == {
        "refunds": (2, REFUNDS),
        "other": (1, OTHER),
    }
    # A range without the items counts none.
    day = timezone.now().date() - timedelta(days=3)
    earlier = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    report = client.get("/reports/", earlier).context["report"]
    assert [f.flagged for f in report.flags] == [0, 0]


def test_the_trend_counts_decisions_on_flagged_items(flagged, people, client):
    rita = people.reviewer
    held = recommendation_claim(user=rita, queue="refunds")
    assert held is not None and held.pk == flagged["low"].pk
    recommendation_decide(user=rita, recommendation_id=held.pk, outcome="approve")
    assert Decision.objects.get(recommendation=held).flagged is True

    client.force_login(rita)
    lines = list(
        csv.reader(io.StringIO(client.get("/reports/trend.csv", today()).content.decode()))
    )
    header, row = lines[0], lines[1]
    assert header[-1] == "flagged" and row[header.index("decisions")] == "1"
    assert row[-1] == "1"
    html = client.get("/reports/", today()).content.decode()
    assert '<th scope="col" class="num">Flagged</th>' in html


def test_the_queue_page_counts_flags_and_says_what_raises_them(flagged, people, client):
    client.force_login(people.reviewer)
    html = client.get("/queues/refunds/").content.decode()
    assert "<dd data-flagged>2</dd>" in html
    assert '<dd data-kind="risk_ceiling">1</dd>' in html
    assert "<strong>Low confidence</strong>: confidence below 0.5" in html
    assert "<strong>Risk above ceiling</strong>: risk at or above 0.9" in html
    assert "data-flags-idle" not in html
    client.force_login(people.outsider)
    assert client.get("/queues/refunds/").status_code == 404


def test_the_queue_page_says_when_flags_do_not_apply(world, people, client):
    client.force_login(people.reviewer)
    html = client.get("/queues/refunds/").content.decode()
    assert "No anomaly flags configured" in html and "data-flags-idle" in html


def test_flag_counts_read_the_partial_index_of_flagged_items(flagged, world):
    now = timezone.now()
    qs = Recommendation.objects.filter(
        queue__in=[world.queue], created_at__gte=now - timedelta(days=1), created_at__lt=now
    ).exclude(flags=[])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: force the index choice
    assert "rec_flagged_idx" in qs.explain()
    (row,) = flag_counts(queues=[world.queue], lo=now - timedelta(days=1), hi=now)
    assert (row.flagged, row.by_kind) == (2, REFUNDS)


# --- The admin ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"fields": ["amount"], "z": 0}, "anomaly.z: must be a number above 0"),
        ({"fields": ["amount"], "z": -1}, "anomaly.z: must be a number above 0"),
        ({"fields": ["amount"], "window": 5}, "anomaly.window: must be a whole number"),
        ({"fields": ["order_id"]}, "anomaly.fields: 'order_id' is not a numeric property"),
        (["amount"], "must be a table"),
    ],
)
def test_the_admin_refuses_bad_anomaly_settings_with_the_key_path(client, world, value, message):
    admin_client(client)
    before = (list(Queue.objects.values()), AuditEvent.objects.count())
    status, errors = save(client, queue_url(world.queue), anomaly=json.dumps(value))
    assert status == 200
    assert any(message in e for e in errors.get("anomaly", [])), errors
    assert (list(Queue.objects.values()), AuditEvent.objects.count()) == before


def test_the_admin_saves_the_flag_settings_and_audits_them(client, world):
    admin_client(client)
    settings = {"fields": ["amount"], "z": 3.5, "window": 500}
    status, errors = save(
        client,
        queue_url(world.queue),
        anomaly=json.dumps(settings),
        max_per_5min=200,
        hard_confidence_floor=0.4,
    )
    assert status == 302, errors
    queue = Queue.objects.get(pk=world.queue.pk)
    assert (queue.anomaly, queue.max_per_5min, queue.hard_confidence_floor) == (settings, 200, 0.4)
    event = AuditEvent.objects.latest("id")
    assert event.action == "queue.changed"
    assert event.data["changes"]["anomaly"] == {"before": {}, "after": settings}

    # Emptied, or {}: no outlier flags.
    for empty in ("", "{}"):
        Queue.objects.filter(pk=queue.pk).update(anomaly=settings)
        status, errors = save(client, queue_url(world.queue), anomaly=empty)
        assert status == 302, (empty, errors)
        assert Queue.objects.get(pk=queue.pk).anomaly == {}


def test_the_admin_shows_the_flag_settings_in_their_fieldsets(client, world):
    admin_client(client)
    html = client.get(queue_url(world.queue)).content.decode()
    assert "Anomaly flags" in html
    for name in ("hard_confidence_floor", "anomaly", "max_per_5min"):
        assert f'name="{name}"' in html, name


def test_flags_of_an_unexpected_shape_still_show_as_text():
    assert flag_items([{"kind": "new_kind"}, "odd", {"kind": "volume", "detail": 3}]) == [
        FlagItem("new_kind", "new_kind", ""),
        FlagItem("unknown", "Flag", '"odd"'),
        FlagItem("volume", "High volume", ""),
    ]
    assert flag_items(None) == []
