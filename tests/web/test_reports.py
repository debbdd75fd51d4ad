"""The reports page and its CSV downloads through Django's test client: who sees what, the
numbers against a hand count, the htmx partial, the chart's accessibility, readiness."""

import csv
import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from reviewqueue.models import Execution, Recommendation
from tests.selectors.metrics_world import at, decide, ingest

HX = {"HTTP_HX_REQUEST": "true"}
OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}


@pytest.fixture
def october(world, people):
    """Hand count, refunds, October 2026: 4 human decisions on Oct 1 (3 approve, 1 modify of
    `amount` for wrong_amount), 1 on Oct 2 (reject, policy_violation) and 1 modify of `note`
    (cosmetic, wrong_amount) on Oct 3; a policy approval and a decision in `other`."""
    rita, sam = people.reviewer, people.senior
    for hour in (9, 10, 11):
        decide(
            world, decided_at=at(f"2026-10-01T{hour:02d}:00:00"), reviewer=rita, seconds=60 * hour
        )
    decide(
        world,
        decided_at=at("2026-10-01T12:00:00"),
        reviewer=sam,
        outcome="modify",
        reason_code="wrong_amount",
        diff=[{"path": "amount", "op": "replace", "old": 40.0, "new": 35.0}],
        is_cosmetic=False,
        model={"name": "refund-agent", "version": "2026-11-01"},
    )
    decide(
        world,
        decided_at=at("2026-10-02T12:00:00"),
        reviewer=sam,
        outcome="reject",
        reason_code="policy_violation",
    )
    decide(
        world,
        decided_at=at("2026-10-03T12:00:00"),
        reviewer=rita,
        outcome="modify",
        reason_code="wrong_amount",
        diff=[{"path": "note", "op": "add", "old": None, "new": "x"}],
        is_cosmetic=True,
    )
    decide(world, decided_at=at("2026-10-03T13:00:00"), kind="policy", review_seconds=None)
    decide(world, decided_at=at("2026-10-03T14:00:00"), queue=world.other_queue)


def page(client, user, **params):
    client.force_login(user)
    return client.get("/reports/", {**OCTOBER, **params})


class Texts(HTMLParser):
    """Text of elements carrying a given data- attribute."""

    def __init__(self, attr):
        super().__init__()
        self.attr, self.depth, self.found, self.current = attr, 0, [], []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += 1
        elif any(name == self.attr for name, _ in attrs):
            self.depth, self.current = 1, []

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.found.append(" ".join("".join(self.current).split()))

    def handle_data(self, data):
        if self.depth:
            self.current.append(data)


def texts(html, attr):
    parser = Texts(attr)
    parser.feed(html)
    return parser.found


def table_rows(html, name):
    section = html.split(f'data-table="{name}"', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return rows[1:]  # without the header row


# --- Access ------------------------------------------------------------------------------------


def test_reports_require_sign_in(client, world):
    response = client.get("/reports/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert client.get("/reports/trend.csv").status_code == 302


def test_nav_links_to_reports(client, world, people):
    client.force_login(people.auditor)
    assert ">Reports</a>" in client.get("/queues/").content.decode()
    client.force_login(people.reviewer)
    assert ">My numbers</a>" in client.get("/queues/").content.decode()


def test_admin_sees_the_hand_counted_numbers(client, world, people, october):
    response = page(client, people.admin, queue="refunds")
    assert response.status_code == 200
    html = response.content.decode()
    assert texts(html, "data-total-decisions") == ["6"]
    assert texts(html, "data-total-approval") == ["50.0%"]  # 3 of 6
    trend = table_rows(html, "trend")
    assert len(trend) == 31
    assert trend[0][:9] == [
        "2026-10-01",
        "4",
        "3",
        "1",
        "0",
        "75.0%",
        "25.0%",
        "0.0%",
        "9 min 30 s",
    ]
    assert trend[1][:8] == ["2026-10-02", "1", "0", "0", "1", "0.0%", "0.0%", "100.0%"]
    assert trend[3][1:6] == ["0", "0", "0", "0", "—"]  # an empty day: no rate, not 0
    assert table_rows(html, "reasons") == [
        ["wrong_amount", "2", "2", "0", "66.7%", "66.7% 66.7%"],
        ["policy_violation", "1", "0", "1", "33.3%", "100.0% 100.0%"],
    ]
    assert table_rows(html, "fields") == [
        ["amount", "1", "50.0%", "0"],
        ["note", "1", "50.0%", "1"],
    ]
    models = table_rows(html, "models")
    assert models == [
        ["refund-agent 2026-10-01", "5", "60.0%", "20.0%", "20.0%", "5", "80.0%"],
        ["refund-agent 2026-11-01", "1", "0.0%", "100.0%", "0.0%", "1", "0.0%"],
    ]
    assert table_rows(html, "prompts") == [
        ["refund-v7", "6", "50.0%", "33.3%", "16.7%", "6", "66.7%"]
    ]
    assert table_rows(html, "reviewers") == [
        ["rita", "4", "30 s", "25.0%", "0", "0"],
        ["sam", "2", "30 s", "50.0%", "0", "0"],
    ]


def test_auditor_sees_every_queue_and_readiness(client, world, people, october):
    html = page(client, people.auditor).content.decode()
    assert texts(html, "data-total-decisions") == ["7"]
    assert 'data-readiness="refunds"' in html and 'data-readiness="other"' in html
    assert [r[0].split()[0] for r in table_rows(html, "backlog")] == ["Other", "Refunds"]


def test_reviewer_sees_only_their_own_numbers(client, world, people, october):
    html = page(client, people.reviewer).content.decode()
    assert texts(html, "data-total-decisions") == ["4"]
    assert [r[0] for r in table_rows(html, "reviewers")] == ["rita"]
    assert "data-readiness" not in html
    assert "Only your own decisions are counted." in html


def test_reviewer_asking_for_another_queue_gets_the_same_404_as_for_no_queue(
    client, world, people, october
):
    """Issue 14 #17: a queue name cannot be probed through the reports page."""
    other = page(client, people.reviewer, queue="other")
    missing = page(client, people.reviewer, queue="no-such-queue")
    assert other.status_code == missing.status_code == 404
    assert "not a member" not in other.content.decode()
    assert "No queue &#x27;other&#x27;." in other.content.decode()
    assert "No queue &#x27;no-such-queue&#x27;." in missing.content.decode()
    for section in ("trend", "backlog"):
        a = client.get(f"/reports/{section}.csv", {"queue": "other"})
        b = client.get(f"/reports/{section}.csv", {"queue": "no-such-queue"})
        assert a.status_code == b.status_code == 404
        assert a.content.replace(b"other", b"X") == b.content.replace(b"no-such-queue", b"X")


def test_bad_filters_show_errors_next_to_the_fields(client, world, people):
    response = page(client, people.admin, **{"from": "2026-11-01", "to": "2026-10-01"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="f-to-error"' in html and 'aria-invalid="true"' in html


def test_htmx_gets_the_report_partial_only(client, world, people, october):
    client.force_login(people.admin)
    response = client.get("/reports/", {**OCTOBER, "queue": "refunds"}, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<datalist") and 'id="report"' in html
    assert "<html" not in html and 'id="filters"' not in html
    assert 'hx-swap-oob="true"' in html and '<option value="2026-11-01">' in html
    assert "HX-Request" in response["Vary"]


def test_filter_form_works_without_javascript(client, world, people, october):
    html = page(client, people.admin).content.decode()
    form = html.split('id="filters"', 1)[1].split("</form>", 1)[0]
    assert 'method="get"' in html.split('id="filters"', 1)[0].rsplit("<form", 1)[1] + form
    assert 'action="/reports/"' in form or 'action="/reports/"' in html
    for name in ("queue", "from", "to", "bucket", "model_version", "tz"):
        assert f'name="{name}"' in form
    assert 'type="submit"' in form


def test_model_version_filter(client, world, people, october):
    html = page(client, people.admin, queue="refunds", model_version="2026-11-01").content.decode()
    assert texts(html, "data-total-decisions") == ["1"]
    # The comparison still shows every version.
    assert len(table_rows(html, "models")) == 2


def test_week_and_month_buckets(client, world, people, october):
    html = page(client, people.admin, queue="refunds", bucket="month").content.decode()
    assert [r[:2] for r in table_rows(html, "trend")] == [["2026-10", "6"]]
    html = page(client, people.admin, queue="refunds", bucket="week").content.decode()
    assert [r[:2] for r in table_rows(html, "trend")][:2] == [
        ["2026-09-28", "6"],
        ["2026-10-05", "0"],
    ]


def test_chart_is_accessible_svg(client, world, people, october):
    decide(world, decided_at=at("2026-10-10T12:00:00"))
    html = page(client, people.admin, queue="refunds").content.decode()
    chart = html.split('<svg role="img" aria-labelledby="chart-title chart-desc"', 1)[1].split(
        "</svg>", 1
    )[0]
    assert '<title id="chart-title">' in chart and '<desc id="chart-desc">' in chart
    assert "31 day buckets, 4 with decisions" in chart
    for series in ("approval_rate", "modification_rate", "rejection_rate"):
        assert f'data-series="{series}"' in chart
    # Oct 1-3 and Oct 10 have decisions: no line joins across the empty days between.
    approval = chart.split('data-series="approval_rate"', 1)[1].split("</g>", 1)[0]
    assert approval.count("<polyline") == 2 and approval.count("<circle") == 4
    assert "<script" not in html.split('id="report"', 1)[1]


def test_page_escapes_untrusted_text(client, world, people):
    decide(
        world,
        decided_at=at("2026-10-01T12:00:00"),
        outcome="modify",
        reason_code="wrong_amount",
        diff=[{"path": "<script>alert(1)</script>", "op": "add", "old": None, "new": 1}],
        model={"name": "x", "version": "<img src=x onerror=alert(1)>"},
    )
    html = page(client, people.admin).content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_backlog_counts_open_items_and_overdue(client, world, people):
    now = timezone.now()
    waiting = ingest(world.source, world.queue)
    late = ingest(world.source, world.queue)
    Recommendation.objects.filter(pk=late.pk).update(
        created_at=now - timedelta(hours=3), due_at=now - timedelta(hours=2)
    )
    expired = ingest(world.source, world.queue)
    Recommendation.objects.filter(pk=expired.pk).update(status="expired")
    Recommendation.objects.filter(pk=waiting.pk).update(status="escalated")
    html = page(client, people.admin).content.decode()
    rows = {r[0].split()[0]: r for r in table_rows(html, "backlog")}
    assert rows["Refunds"][1:5] == ["2", "1", "0", "1"]
    assert rows["Refunds"][6] == "1"
    assert rows["Refunds"][5].startswith("3")  # hours


def test_shadow_items_of_a_blind_queue_are_waiting_in_the_backlog(client, world, people):
    from reviewqueue.models import Queue

    shadow = [ingest(world.source, world.queue) for _ in range(3)]
    Recommendation.objects.filter(pk__in=[r.pk for r in shadow]).update(status="shadow")
    client.force_login(people.admin)
    Queue.objects.filter(pk=world.queue.pk).update(blind_review=False)
    rows = {r[0]: r for r in read_csv(client.get("/reports/backlog.csv"))}
    assert rows["refunds"][1:4] == ["0", "0", "0"]  # they wait for the source, not a reviewer

    Queue.objects.filter(pk=world.queue.pk).update(blind_review=True)
    rows = {r[0]: r for r in read_csv(client.get("/reports/backlog.csv"))}
    assert rows["queue"][1:4] == ["open", "pending", "shadow"]
    assert rows["refunds"][1:4] == ["3", "0", "3"]
    html = page(client, people.admin).content.decode()
    assert {r[0].split()[0]: r for r in table_rows(html, "backlog")}["Refunds"][1:3] == ["3", "3"]


def test_readiness_shows_each_gate_with_its_numbers(client, world, people):
    now = timezone.now()
    html = page(client, people.admin).content.decode()
    refunds = html.split('data-readiness="refunds"', 1)[1].split("</table>", 1)[0]
    assert 'data-gate="approval_rate"' in refunds
    assert "No decisions in the last 30 full days." in refunds
    assert 'data-gate="incidents"' in refunds
    assert "No high-severity incidents recorded." in refunds
    del now


# --- CSV ---------------------------------------------------------------------------------------------


def read_csv(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_trend_csv_has_what_the_page_shows(client, world, people, october):
    client.force_login(people.admin)
    rows = read_csv(client.get("/reports/trend.csv", {**OCTOBER, "queue": "refunds"}))
    assert rows[0][:2] == ["start", "decisions"] and len(rows) == 32
    assert rows[1][:6] == ["2026-10-01T00:00:00Z", "4", "3", "1", "0", "0.75"]
    assert rows[4][5] == ""  # no decisions: no rate
    response = client.get("/reports/trend.csv", {**OCTOBER, "queue": "refunds"})
    assert 'filename="trend-2026-10-01-2026-10-31.csv"' in response["Content-Disposition"]


@pytest.mark.parametrize(
    "section", ["reasons", "fields", "models", "prompts", "reviewers", "backlog", "readiness"]
)
def test_every_section_has_a_csv(client, world, people, october, section):
    client.force_login(people.auditor)
    rows = read_csv(client.get(f"/reports/{section}.csv", OCTOBER))
    assert len(rows) >= 2


def test_csv_keeps_reviewers_to_their_own_numbers(client, world, people, october):
    client.force_login(people.reviewer)
    rows = read_csv(client.get("/reports/reviewers.csv", OCTOBER))
    assert [r[0] for r in rows[1:]] == ["rita"]
    assert client.get("/reports/readiness.csv", OCTOBER).status_code == 404
    assert client.get("/reports/trend.csv", {**OCTOBER, "reviewer": "sam"}).status_code == 403
    assert client.get("/reports/nope.csv").status_code == 404


def test_csv_neutralises_formulas(client, world, people):
    decide(
        world,
        decided_at=at("2026-10-01T12:00:00"),
        outcome="modify",
        reason_code="wrong_amount",
        diff=[{"path": "=HYPERLINK(1)", "op": "add", "old": None, "new": 1}],
    )
    decide(
        world,
        decided_at=at("2026-10-01T13:00:00"),
        outcome="modify",
        reason_code="wrong_amount",
        diff=[{"path": "note;=HYPERLINK(2)", "op": "add", "old": None, "new": 1}],
    )
    client.force_login(people.admin)
    rows = read_csv(client.get("/reports/fields.csv", OCTOBER))
    fields = {row[0] for row in rows[1:]}
    assert {"'=HYPERLINK(1)", "'note;=HYPERLINK(2)"} <= fields


def test_bad_csv_parameters_are_400(client, world, people):
    client.force_login(people.admin)
    response = client.get("/reports/trend.csv", {"bucket": "year"})
    assert response.status_code == 400 and b"bucket" in response.content


def test_supervised_queue_readiness_counts_failed_auto_executions(client, world, people):
    world.queue.stage = "supervised"
    world.queue.save(update_fields=["stage"])
    now = timezone.now()
    decision = decide(world, decided_at=now - timedelta(days=1), kind="policy", review_seconds=None)
    Execution.objects.create(
        recommendation_id=decision.recommendation_id,
        queue=world.queue,
        by_policy=True,
        payload={},
        payload_hash="",
        idempotency_key="rq-x",
        status="dead",
    )
    html = page(client, people.admin).content.decode()
    refunds = html.split('data-readiness="refunds"', 1)[1].split("</table>", 1)[0]
    assert "1 of 1 auto-executed items failed or were marked incorrect (100%)" in refunds
    assert "no QA verdicts on them yet" in refunds


def test_htmx_gets_errors_in_the_partial_with_400(client, world, people):
    client.force_login(people.admin)
    response = client.get("/reports/", {"bucket": "year"}, **HX)
    html = response.content.decode()
    assert response.status_code == 400  # review.js lets htmx swap 400s
    assert 'id="report"' in html and "error-summary" in html and "bucket" in html


def test_time_axis_and_labels():
    from reviewqueue.reporting.charts import _nice_ceiling, _short_duration
    from reviewqueue.reporting.display import Seconds

    assert _nice_ceiling(0) == 60
    assert _nice_ceiling(45) == 50
    assert _nice_ceiling(55 * 60) == 60 * 60
    assert _nice_ceiling(61 * 60) == 80 * 60
    assert [_short_duration(s) for s in (0, 30, 1800, 5400)] == ["0 s", "30 s", "30 min", "1.5 h"]
    assert [
        str(Seconds(s)) for s in (None, 4.25, 42, 310, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)
    ] == [
        "—",
        "4.2 s",
        "42 s",
        "5 min 10 s",
        "3 h 05 min",
        "2 d 4 h",
    ]


def test_x_labels_include_the_first_and_last_bucket(client, world, people):
    html = page(client, people.admin, **{"from": "2026-01-01", "to": "2026-12-31"}).content.decode()
    chart = html.split('aria-labelledby="chart-title chart-desc"', 1)[1].split("</svg>", 1)[0]
    labels = re.findall(r'text-anchor="(start|middle|end)">(\d{4}-\d{2}-\d{2})<', chart)
    assert labels[0] == ("start", "2026-01-01") and labels[-1] == ("end", "2026-12-30")
    assert len(labels) == 7
