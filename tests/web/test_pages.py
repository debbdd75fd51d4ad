"""The reviewer's pages through Django's test client, on the real database: sign-in, the
queue overview, the review page (claim, decide, escalate, release, refused forms, lost
leases) and every item's page. Personas: reviewer, senior, outsider, auditor."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from reviewqueue.models import AuditEvent, Decision, Recommendation
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import (
    leases_return_expired,
    recommendation_claim,
    recommendation_decide,
)
from reviewqueue.web.forms import form_data_for
from tests.conftest import TEST_PASSWORD, item
from tests.factories import QueueFactory

HX = {"HTTP_HX_REQUEST": "true"}


def ingest(world, n: int = 0, **overrides) -> Recommendation:
    body = item(external_id=f"ticket-{n}:refund", **overrides)
    rec, _ = recommendation_ingest(source=world.source, data=body)
    return rec


def review_url(slug: str = "refunds") -> str:
    return f"/queues/{slug}/review/"


def claim_url(slug: str = "refunds") -> str:
    return f"/queues/{slug}/review/claim"


def action_url(rec: Recommendation, action: str) -> str:
    return f"/queues/{rec.queue.slug}/review/{rec.pk}/{action}"


class Links(HTMLParser):
    """The hrefs of <a> elements, and each <a>'s attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.anchors.append(dict(attrs))


def anchors(html: str) -> list[dict[str, str | None]]:
    parser = Links()
    parser.feed(html)
    return parser.anchors


# --- Sign-in --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/queues/",
        "/queues/refunds/review/",
        "/recommendations/00000000-0000-0000-0000-000000000001/",
    ],
)
def test_pages_require_sign_in(client, world, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_home_sends_anonymous_to_login_and_members_to_queues(client, people):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    client.force_login(people.reviewer)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/queues/"


def test_login_form_signs_in_and_logout_needs_post(client, people):
    page = client.get("/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post("/login/", {"username": "rita", "password": TEST_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/queues/"
    assert client.get("/queues/").status_code == 200
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/queues/").status_code == 302


def test_top_bar_links_admin_only_for_admins(client, world, people):
    client.force_login(people.reviewer)
    html = client.get("/queues/").content.decode()
    assert 'href="/queues/"' in html and 'href="/admin/"' not in html
    assert 'action="/logout/"' in html and ">rita<" in html
    client.force_login(people.admin)
    assert 'href="/admin/"' in client.get("/queues/").content.decode()


def test_login_refuses_a_wrong_password(client, people):
    response = client.post("/login/", {"username": "rita", "password": "nope"})
    assert response.status_code == 200 and b"error-summary" in response.content


# --- Queues -----------------------------------------------------------------------------


def test_queue_list_counts_waiting_oldest_and_overdue(client, world, people):
    first, second, third = (ingest(world, n) for n in range(3))
    past = timezone.now() - timedelta(hours=2)
    Recommendation.objects.filter(pk=first.pk).update(due_at=past, created_at=past)
    recommendation_claim(user=people.senior, queue=world.queue)  # takes `first`: not waiting
    escalated = ingest(world, 9, risk_score=0.42)
    Recommendation.objects.filter(pk=escalated.pk).update(
        status="escalated", escalated_at=timezone.now()
    )
    client.force_login(people.reviewer)
    response = client.get("/queues/")
    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert row.queue == world.queue and row.can_review
    assert row.waiting == 2  # second and third; escalated items are for seniors
    # `first` is past its due time but in the senior's hands: nothing the reviewer can act on
    assert row.overdue == 0
    assert row.oldest_waiting_at == second.created_at
    assert b'href="/queues/refunds/review/"' in response.content

    client.force_login(people.senior)
    (row,) = client.get("/queues/").context["rows"]
    assert row.waiting == 3 and row.escalated == 1 and row.senior
    assert third.pk  # all three were created


def test_overdue_counts_what_the_viewer_can_act_on(client, world, people):
    pending, escalated = ingest(world, 0), ingest(world, 1)
    past = timezone.now() - timedelta(hours=2)
    Recommendation.objects.filter(pk__in=[pending.pk, escalated.pk]).update(due_at=past)
    Recommendation.objects.filter(pk=escalated.pk).update(status="escalated", escalated_at=past)
    expected = {"reviewer": 1, "senior": 2, "auditor": 2}  # the auditor oversees them all
    for who, count in expected.items():
        client.force_login(getattr(people, who))
        rows = {r.queue.slug: r for r in client.get("/queues/").context["rows"]}
        assert rows["refunds"].overdue == count, who


def test_only_people_who_decide_see_my_recent_decisions(client, world, people):
    client.force_login(people.reviewer)
    assert b"My recent decisions" in client.get("/queues/").content
    client.force_login(people.auditor)
    assert b"My recent decisions" not in client.get("/queues/").content


def test_queue_list_shows_auditors_every_queue_read_only(client, world, people):
    client.force_login(people.auditor)
    response = client.get("/queues/")
    rows = response.context["rows"]
    assert {r.queue.slug for r in rows} == {"refunds", "other"}
    assert not any(r.can_review for r in rows)
    assert b"/review/" not in response.content and b"Read only" in response.content


def test_queue_list_hides_other_queues_from_reviewers(client, world, people):
    QueueFactory(slug="secret")
    client.force_login(people.reviewer)
    rows = client.get("/queues/").context["rows"]
    assert [r.queue.slug for r in rows] == ["refunds"]


def test_queue_list_shows_my_recent_decisions(client, world, people):
    rec = ingest(world)
    recommendation_claim(user=people.reviewer, queue=world.queue)
    recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
    client.force_login(people.reviewer)
    response = client.get("/queues/")
    assert [d.recommendation_id for d in response.context["recent"]] == [rec.pk]
    assert f'href="/recommendations/{rec.pk}/"'.encode() in response.content


# --- The review page -----------------------------------------------------------------


def test_claim_takes_the_next_item_and_the_page_shows_it(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    claimed = client.post(claim_url())
    assert claimed.status_code == 303 and claimed["Location"] == review_url()
    response = client.get(review_url())
    assert response.status_code == 200
    rec.refresh_from_db()
    assert rec.status == "in_review" and rec.claimed_by == people.reviewer
    html = response.content.decode()
    for text in [
        "refund.issue",
        "order_id",
        "A-1",
        "40.0",
        "Customer was charged twice for order A-1.",
        "refund-agent",
        "2026-10-01",
        "refund-v7",
        "customer_tier",
        "gold",
        "0.91",
        "0.42",
        "2036-11-23",
    ]:
        assert text in html, text
    for name in ["Approve", "Modify", "Reject", "Escalate", "Release"]:
        assert f">{name} <kbd" in html or f">{name}</button>" in html, name
    assert f'datetime="{rec.lease_expires_at.isoformat()}"' in html
    assert re.search(r"data-lease-clock>(9:5\d|10:00)</time>", html)
    (link,) = [a for a in anchors(html) if a.get("href") == "https://crm.example/orders/A-1"]
    assert link["rel"] == "noopener noreferrer" and link["target"] == "_blank"
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "<script>" not in html  # no inline scripts: only <script src=... defer>


def test_review_page_shows_the_item_already_held_again(client, world, people):
    first, _second = ingest(world, 1), ingest(world, 2)
    client.force_login(people.reviewer)
    client.post(claim_url())
    for _ in range(2):
        response = client.get(review_url())
        assert response.context["rec"].pk == first.pk
    # Claiming again gives back the same item too: one lease per reviewer and queue.
    client.post(claim_url())
    assert client.get(review_url()).context["rec"].pk == first.pk
    assert Recommendation.objects.filter(status="in_review").count() == 1


def test_review_page_get_never_claims_nor_audits(client, world, people):
    ingest(world, 1)
    ingest(world, 2)
    before = AuditEvent.objects.count()
    for user in (people.reviewer, people.senior):
        client.force_login(user)
        for extra in ({}, HX):
            for url in (review_url(), review_url() + "?panel=reject"):
                response = client.get(url, **extra)
                assert response.status_code == 200
    assert AuditEvent.objects.count() == before
    assert not Recommendation.objects.filter(claimed_by__isnull=False).exists()
    assert set(Recommendation.objects.values_list("status", flat=True)) == {"pending"}


def test_review_page_without_a_held_item_offers_a_claim_button(client, world, people):
    ingest(world, 1)
    ingest(world, 2)
    client.force_login(people.reviewer)
    response = client.get(review_url())
    assert response.context["rec"] is None
    html = response.content.decode()
    assert "You are not holding an item" in html and "2 waiting in this queue" in html
    (form,) = re.findall(r'<form[^>]*action="' + claim_url() + r'"[^>]*>', html)
    assert 'method="post"' in form and 'hx-post="' + claim_url() + '"' in form
    claim_form = html.split(form)[1].split("</form>")[0]
    assert 'name="csrfmiddlewaretoken"' in claim_form and "data-claim-next" in claim_form
    # No link anywhere on the page claims by GET.
    assert not [a for a in anchors(html) if (a.get("href") or "").startswith(claim_url())]


def test_claim_only_takes_post(client, world, people):
    ingest(world)
    client.force_login(people.reviewer)
    assert client.get(claim_url()).status_code == 405
    assert not Recommendation.objects.filter(claimed_by=people.reviewer).exists()


def test_htmx_claim_answers_with_the_item_partial(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    response = client.post(claim_url(), **HX)
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<section id="item"') and f'data-rec="{rec.pk}"' in html
    assert "HX-Request" in response["Vary"]
    rec.refresh_from_db()
    assert rec.claimed_by == people.reviewer


def test_claim_with_nothing_waiting_lands_on_the_empty_page(client, world, people):
    client.force_login(people.reviewer)
    response = client.post(claim_url())
    assert response.status_code == 303
    assert b"Nothing waiting in this queue" in client.get(response["Location"]).content
    assert b"Nothing waiting in this queue" in client.post(claim_url(), **HX).content


def test_claim_is_refused_to_non_members(client, world, people):
    rec = ingest(world)
    client.force_login(people.outsider)
    assert client.post(claim_url()).status_code == 404
    client.force_login(people.auditor)
    assert client.post(claim_url()).status_code == 403
    rec.refresh_from_db()
    assert rec.status == "pending" and rec.claimed_by is None


def test_review_page_says_when_nothing_is_waiting(client, world, people):
    client.force_login(people.reviewer)
    response = client.get(review_url())
    assert response.status_code == 200
    assert b"Nothing waiting in this queue" in response.content
    assert b"data-claim-next" not in response.content


def test_review_page_is_404_for_non_members_as_for_no_queue(client, world, people):
    ingest(world)
    client.force_login(people.outsider)
    assert client.get(review_url()).status_code == 404
    assert client.get("/queues/no-such-queue/review/").status_code == 404
    # An auditor reads every queue anyway: told plainly that they may not review.
    client.force_login(people.auditor)
    response = client.get(review_url())
    assert response.status_code == 403
    assert b"not a member of queue" in response.content
    assert Recommendation.objects.get().status == "pending"


def test_review_page_of_an_unknown_queue_is_404(client, world, people):
    client.force_login(people.reviewer)
    assert client.get(review_url("nope")).status_code == 404


def test_htmx_review_request_gets_only_the_item_partial(client, world, people):
    ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    response = client.get(review_url(), **HX)
    html = response.content.decode().strip()
    assert html.startswith('<section id="item"') and "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_no_js_panel_opener_shows_the_form_on_the_page(client, world, people):
    ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    html = client.get(review_url() + "?panel=reject").content.decode()
    assert 'id="panel-reject"' in html
    reject_form = html.split('id="panel-reject"')[1].split(">")[0]
    assert "hidden" not in reject_form
    modify_form = html.split('id="panel-modify"')[1].split(">")[0]
    assert "hidden" in modify_form


# --- Deciding ---------------------------------------------------------------------------


def test_approve_with_htmx_answers_with_the_next_item_claimed(client, world, people):
    first, second = ingest(world, 1), ingest(world, 2)
    client.force_login(people.reviewer)
    client.post(claim_url())
    response = client.post(action_url(first, "decide"), {"outcome": "approve"}, **HX)
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<section id="item"')
    assert "Approved ticket-1:refund." in html and "ticket-2:refund" in html
    decision = Decision.objects.get(recommendation=first)
    assert decision.outcome == "approve" and decision.reviewer == people.reviewer
    second.refresh_from_db()
    assert second.status == "in_review" and second.claimed_by == people.reviewer


def test_approve_without_htmx_redirects_back_to_the_page(client, world, people):
    first, second = ingest(world, 1), ingest(world, 2)
    client.force_login(people.reviewer)
    client.post(claim_url())
    response = client.post(action_url(first, "decide"), {"outcome": "approve"})
    assert response.status_code == 302 and response["Location"] == review_url()
    # The next item was claimed inside the decision's POST: the GET only shows it.
    second.refresh_from_db()
    assert second.status == "in_review" and second.claimed_by == people.reviewer
    claims = AuditEvent.objects.filter(action="recommendation.claimed").count()
    page = client.get(review_url())
    assert page.context["rec"].pk == second.pk
    assert b"Approved ticket-1:refund." in page.content
    assert AuditEvent.objects.filter(action="recommendation.claimed").count() == claims


def test_escalate_without_htmx_lands_on_the_next_claimed_item(client, world, people):
    first, second = ingest(world, 1), ingest(world, 2)
    client.force_login(people.reviewer)
    client.post(claim_url())
    response = client.post(action_url(first, "escalate"), {"comment": "big one"})
    assert response.status_code == 302 and response["Location"] == review_url()
    page = client.get(response["Location"])
    assert page.context["rec"].pk == second.pk
    assert b"Escalated ticket-1:refund to the senior reviewers." in page.content


def test_modify_through_the_generated_form_stores_the_diff(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    data = form_data_for(world.action_type.payload_schema, rec.payload)
    assert data == {"payload.order_id": "A-1", "payload.amount": "40.0", "payload.note": ""}
    data.update({"payload.amount": "25.5", "outcome": "modify", "reason_code": "wrong_amount"})
    response = client.post(action_url(rec, "decide"), data, **HX)
    assert response.status_code == 200, response.content
    decision = Decision.objects.get(recommendation=rec)
    assert decision.outcome == "modify" and decision.reason_code == "wrong_amount"
    assert decision.payload == {"order_id": "A-1", "amount": 25.5}
    assert decision.diff == [{"path": "amount", "op": "replace", "old": 40.0, "new": 25.5}]
    assert decision.is_cosmetic is False


def test_modify_of_a_cosmetic_field_only_is_labelled_cosmetic(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    data = form_data_for(world.action_type.payload_schema, rec.payload)
    data.update({"payload.note": "typo fixed", "outcome": "modify", "reason_code": "other"})
    client.post(action_url(rec, "decide"), data)
    decision = Decision.objects.get(recommendation=rec)
    assert decision.payload == {"order_id": "A-1", "amount": 40.0, "note": "typo fixed"}
    assert decision.is_cosmetic is True


def test_modify_with_the_json_alternative(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    data = {
        "outcome": "modify",
        "reason_code": "wrong_amount",
        "use_json": "1",
        "payload_json": '{"order_id": "A-1", "amount": 12}',
        "payload.amount": "999",  # ignored: the reviewer chose the JSON
    }
    assert client.post(action_url(rec, "decide"), data).status_code == 302
    assert Decision.objects.get(recommendation=rec).payload == {"order_id": "A-1", "amount": 12}


def test_bad_modify_shows_the_errors_next_to_the_fields(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    data = form_data_for(world.action_type.payload_schema, rec.payload)
    data.update({"payload.amount": "-5", "outcome": "modify", "comment": "my note"})
    response = client.post(action_url(rec, "decide"), data, **HX)
    assert response.status_code == 400
    html = response.content.decode()
    assert html.strip().startswith('<section id="item"')
    (amount_input,) = re.findall(r'<input[^>]*name="payload.amount"[^>]*>', html)
    assert 'value="-5"' in amount_input and 'aria-invalid="true"' in amount_input
    amount_field = html.split('name="payload.amount"')[1].split("</div>")[0]
    assert "Must be at least 0." in amount_field
    reason_field = html.split('id="modify-reason"')[1].split("</div>")[0]
    assert "A reason code is required to modify." in reason_field
    assert "my note" in html.split('id="modify-comment"')[1]
    panel = html.split('id="panel-modify"')[1].split(">")[0]
    assert "hidden" not in panel
    assert not Decision.objects.exists()
    rec.refresh_from_db()
    assert rec.status == "in_review"


def test_modify_that_is_not_a_number_is_refused_before_the_service(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    data = form_data_for(world.action_type.payload_schema, rec.payload)
    data.update({"payload.amount": "lots", "outcome": "modify", "reason_code": "other"})
    response = client.post(action_url(rec, "decide"), data)  # no htmx: the full page, 400
    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" in html and "Enter a number." in html


def test_modify_identical_to_the_original_is_explained(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    data = form_data_for(world.action_type.payload_schema, rec.payload)
    data.update({"outcome": "modify", "reason_code": "other"})
    response = client.post(action_url(rec, "decide"), data, **HX)
    assert response.status_code == 400
    assert b"the same as the original; approve it instead" in response.content


def test_reject_without_a_reason_is_400_with_the_error_at_the_select(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    response = client.post(action_url(rec, "decide"), {"outcome": "reject"}, **HX)
    assert response.status_code == 400
    html = response.content.decode()
    reason_field = html.split('id="reject-reason"')[1].split("</div>")[0]
    assert "A reason code is required to reject." in reason_field
    assert "hidden" not in html.split('id="panel-reject"')[1].split(">")[0]
    assert not Decision.objects.exists()


def test_reject_with_a_reason_is_recorded(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    data = {"outcome": "reject", "reason_code": "policy_violation", "comment": "no"}
    response = client.post(action_url(rec, "decide"), data, **HX)
    assert response.status_code == 200 and b"Nothing waiting in this queue" in response.content
    decision = Decision.objects.get(recommendation=rec)
    assert (decision.outcome, decision.reason_code, decision.comment) == (
        "reject",
        "policy_violation",
        "no",
    )


def test_lost_lease_answers_409_with_the_plain_reason(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    # The lease runs out, the sweep returns the item, and a senior claims it.
    Recommendation.objects.filter(pk=rec.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    leases_return_expired(queue=world.queue)
    recommendation_claim(user=people.senior, queue=world.queue)
    response = client.post(action_url(rec, "decide"), {"outcome": "approve"}, **HX)
    assert response.status_code == 409
    html = response.content.decode()
    assert html.strip().startswith('<section id="item"')
    assert "Another reviewer holds this item now." in html
    assert "Claim the next item" in html
    response = client.post(action_url(rec, "decide"), {"outcome": "approve"})
    assert response.status_code == 409 and b"<html" in response.content
    assert not Decision.objects.exists()


def test_deciding_twice_is_409_already_decided(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    client.post(action_url(rec, "decide"), {"outcome": "approve"}, **HX)
    response = client.post(action_url(rec, "decide"), {"outcome": "approve"}, **HX)
    assert response.status_code == 409
    assert b"This item has already been decided." in response.content


def test_decide_is_404_for_a_non_member(client, world, people):
    rec = ingest(world)
    recommendation_claim(user=people.reviewer, queue=world.queue)
    client.force_login(people.outsider)
    response = client.post(action_url(rec, "decide"), {"outcome": "approve"}, **HX)
    assert response.status_code == 404
    assert not Decision.objects.exists()


def test_decide_only_takes_post(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    assert client.get(action_url(rec, "decide")).status_code == 405


def test_escalate_goes_to_the_seniors_with_a_badge(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    response = client.post(action_url(rec, "escalate"), {"comment": "big one"}, **HX)
    assert response.status_code == 200
    assert b"Escalated ticket-0:refund to the senior reviewers." in response.content
    assert b"Nothing waiting in this queue" in response.content  # not for plain reviewers
    rec.refresh_from_db()
    assert rec.status == "escalated"
    client.force_login(people.senior)
    page = client.post(claim_url(), follow=True)
    assert page.context["rec"].pk == rec.pk
    # "Escalated" is said once, by the tag; the note says who sent it (issue 17 #8d).
    assert page.content.count(b'class="tag tag-escalated">Escalated<') == 1
    assert b"Sent to senior reviewers by rita" in page.content
    assert b"<q>big one</q>" in page.content


def test_release_gives_the_item_back_and_does_not_claim_it_again(client, world, people):
    rec = ingest(world)
    client.force_login(people.reviewer)
    client.post(claim_url())
    response = client.post(action_url(rec, "release"), **HX)
    assert response.status_code == 200
    assert b"Released ticket-0:refund" in response.content
    assert b"Claim the next item" in response.content
    rec.refresh_from_db()
    assert rec.status == "pending" and rec.claimed_by is None
    # Without JavaScript: redirected to the page, which offers to claim, not claims.
    client.post(claim_url())
    response = client.post(action_url(rec, "release"))
    assert response.status_code == 302 and response["Location"] == review_url()
    page = client.get(response["Location"])
    assert b"You are not holding an item" in page.content and b"Released" in page.content
    rec.refresh_from_db()
    assert rec.status == "pending" and rec.claimed_by is None


# --- The item's page -------------------------------------------------------------------


def test_recommendation_page_is_404_for_outsiders(client, world, people):
    rec = ingest(world)
    client.force_login(people.outsider)
    assert client.get(f"/recommendations/{rec.pk}/").status_code == 404
    other = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/recommendations/{other}/").status_code == 404


def test_recommendation_page_shows_decision_diff_execution_and_timeline(client, world, people):
    rec = ingest(world)
    recommendation_claim(user=people.reviewer, queue=world.queue)
    recommendation_decide(
        user=people.reviewer,
        recommendation_id=rec.pk,
        outcome="modify",
        payload={"order_id": "A-1", "amount": 30},
        reason_code="wrong_amount",
        comment="partial refund",
    )
    for user in (people.reviewer, people.auditor):
        client.force_login(user)
        response = client.get(f"/recommendations/{rec.pk}/")
        assert response.status_code == 200
        html = response.content.decode()
        for text in [
            "modify",
            "wrong_amount",
            "partial refund",
            "substantive",
            "amount",
            "40.0",
            "30",
            "rq-" + str(rec.pk),
            "recommendation.created",
            "recommendation.claimed",
            "recommendation.decided",
        ]:
            assert text in html, text
        actions = [e.action for e in response.context["events"]]
        assert actions == [
            "recommendation.created",
            "recommendation.claimed",
            "recommendation.decided",
        ]


# --- Untrusted text ----------------------------------------------------------------------


def test_evidence_javascript_url_never_becomes_a_link(client, world, people):
    rec = ingest(world)
    # The API refuses such URLs; store one directly, as a bug or an old row might.
    Recommendation.objects.filter(pk=rec.pk).update(
        evidence=[
            {"title": "Click me", "url": "javascript:alert(1)", "snippet": "s"},
            {"title": "Data", "url": "data:text/html,<b>x</b>"},
            {"title": "Sneaky", "url": " JaVaScRiPt:alert(1)"},
            "not even an object",
        ]
    )
    client.force_login(people.reviewer)
    client.post(claim_url())
    for url in (review_url(), f"/recommendations/{rec.pk}/"):
        if url.startswith("/recommendations/"):
            client.force_login(people.auditor)
        html = client.get(url).content.decode()
        hrefs = [a.get("href") or "" for a in anchors(html)]
        assert not any("javascript" in h.lower() or h.startswith("data:") for h in hrefs)
        assert "javascript:alert(1)" in html and "Click me" in html
        assert "not even an object" in html


def test_ai_written_text_is_escaped(client, world, people):
    ingest(
        world,
        rationale="<script>alert(1)</script>",
        metadata={"<b>k</b>": "<img src=x onerror=alert(1)>"},
    )
    client.force_login(people.reviewer)
    html = client.post(claim_url(), follow=True).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;k&lt;/b&gt;" in html
