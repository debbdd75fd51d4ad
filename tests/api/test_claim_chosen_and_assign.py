"""Claim a chosen item and assign items (the reviewer workbench, issue 17 items 2, 3, 9)."""

from datetime import timedelta

from django.utils import timezone

from reviewqueue.models import AuditEvent, Recommendation
from tests.api.test_ingest import assert_problem
from tests.api.test_review import add, as_user, claim, decide
from tests.factories import UserFactory, member


def claim_this(client, rec_id):
    return client.post(f"/api/v1/recommendations/{rec_id}/claim")


def assign(client, rec_id, user):
    return client.post(f"/api/v1/recommendations/{rec_id}/assign", {"user": user}, format="json")


# --- claim a chosen item -----------------------------------------------------------------


def test_a_reviewer_claims_the_item_they_chose_not_the_next_one(world, people):
    first, chosen = add(world, external_id="first"), add(world, external_id="chosen")
    response = claim_this(as_user(people.reviewer), chosen.pk)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"]) == (str(chosen.pk), "in_review")
    assert body["lease_expires_at"] is not None
    first.refresh_from_db()
    assert first.status == "pending"
    event = AuditEvent.objects.get(recommendation=chosen, action="recommendation.claimed")
    assert event.data["chosen"] is True and event.actor_label == "rita"


def test_claiming_it_again_gives_back_the_same_lease(world, people):
    rec = add(world)
    client = as_user(people.reviewer)
    lease = claim_this(client, rec.pk).json()["lease_expires_at"]
    again = claim_this(client, rec.pk)
    assert again.status_code == 200 and again.json()["lease_expires_at"] == lease


def test_choosing_another_item_gives_the_held_one_back(world, people):
    held, chosen = add(world, external_id="held"), add(world, external_id="chosen")
    client = as_user(people.reviewer)
    assert claim(client).json()["id"] == str(held.pk)
    assert claim_this(client, chosen.pk).status_code == 200
    held.refresh_from_db()
    assert (held.status, held.claimed_by_id) == ("pending", None)
    released = AuditEvent.objects.get(recommendation=held, action="recommendation.released")
    assert released.data == {"reason": "claimed another item", "claimed": str(chosen.pk)}
    # The review page and claim-next now show the chosen item.
    assert claim(client).json()["id"] == str(chosen.pk)


def test_an_item_someone_else_holds_is_a_conflict_with_its_reason(world, people):
    rec = add(world)
    other = UserFactory(username="carol")
    member(other, world.queue)
    assert claim_this(as_user(other), rec.pk).status_code == 200
    response = claim_this(as_user(people.reviewer), rec.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "held_by_other"


def test_an_item_whose_lease_ran_out_can_be_chosen_by_someone_else(world, people):
    rec = add(world)
    other = UserFactory(username="carol")
    member(other, world.queue)
    claim_this(as_user(other), rec.pk)
    Recommendation.objects.filter(pk=rec.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = claim_this(as_user(people.reviewer), rec.pk)
    assert response.status_code == 200 and response.json()["status"] == "in_review"
    assert AuditEvent.objects.filter(recommendation=rec, action="lease.expired").count() == 1


def test_decided_and_expired_items_say_why_they_cannot_be_claimed(world, people):
    decided, late = add(world, external_id="d"), add(world, external_id="x")
    client = as_user(people.reviewer)
    claim_this(client, decided.pk)
    assert decide(client, decided.pk, outcome="approve").status_code == 200
    response = claim_this(as_user(people.senior), decided.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "already_decided"
    Recommendation.objects.filter(pk=late.pk).update(expires_at=timezone.now())
    response = claim_this(client, late.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "expired"
    late.refresh_from_db()
    assert late.status == "expired"


def test_only_seniors_choose_escalated_items_and_outsiders_are_refused(world, people):
    rec = add(world)
    client = as_user(people.reviewer)
    claim_this(client, rec.pk)
    escalated = client.post(f"/api/v1/recommendations/{rec.pk}/escalate", {}, format="json")
    assert escalated.status_code == 200
    assert_problem(claim_this(client, rec.pk), 403)
    assert claim_this(as_user(people.senior), rec.pk).status_code == 200
    assert_problem(claim_this(as_user(people.outsider), add(world, external_id="o").pk), 403)
    assert_problem(claim_this(as_user(people.auditor), add(world, external_id="a").pk), 403)
    assert_problem(claim_this(client, "not-a-uuid"), 404)


# --- assignment ----------------------------------------------------------------------------


def test_a_senior_assigns_an_item_and_claim_next_offers_it_to_the_assignee_first(world, people):
    add(world, external_id="older", priority=5)
    mine = add(world, external_id="mine")
    response = assign(as_user(people.senior), mine.pk, "rita")
    assert response.status_code == 200, response.content
    assert response.json()["assigned_to"] == "rita"
    event = AuditEvent.objects.get(recommendation=mine, action="recommendation.assigned")
    assert event.data == {"assignee": "rita", "previous": None}
    assert event.actor_label == "sam"
    # Though "older" has the higher priority, rita's claim-next gives her the assigned one.
    assert claim(as_user(people.reviewer)).json()["id"] == str(mine.pk)


def test_unassigning_with_null_and_assigning_twice_writes_once(world, people):
    rec = add(world)
    senior = as_user(people.senior)
    assign(senior, rec.pk, "rita")
    assign(senior, rec.pk, "rita")
    assert AuditEvent.objects.filter(action="recommendation.assigned").count() == 1
    response = assign(senior, rec.pk, None)
    assert response.status_code == 200 and response.json()["assigned_to"] is None
    last = AuditEvent.objects.filter(action="recommendation.assigned").order_by("-id").first()
    assert last.data == {"assignee": None, "previous": "rita"}


def test_an_admin_assigns_without_being_a_member(world, people):
    rec = add(world)
    assert assign(as_user(people.admin), rec.pk, "sam").json()["assigned_to"] == "sam"


def test_who_may_assign_and_to_whom(world, people):
    rec = add(world)
    assert_problem(assign(as_user(people.reviewer), rec.pk, "rita"), 403)
    assert_problem(assign(as_user(people.outsider), rec.pk, "rita"), 404)
    senior = as_user(people.senior)
    for who in ("otto", "audrey", "nobody"):
        response = assign(senior, rec.pk, who)
        assert_problem(response, 400)
        assert "is not a reviewer of queue 'refunds'" in response.json()["errors"]["user"]
    response = senior.post(f"/api/v1/recommendations/{rec.pk}/assign", {}, format="json")
    assert_problem(response, 400)
    response = senior.post(
        f"/api/v1/recommendations/{rec.pk}/assign", {"user": "rita", "x": 1}, format="json"
    )
    assert_problem(response, 400)


def test_a_closed_item_is_not_assigned(world, people):
    rec = add(world)
    client = as_user(people.reviewer)
    claim(client)
    decide(client, rec.pk, outcome="approve")
    response = assign(as_user(people.senior), rec.pk, "rita")
    assert_problem(response, 409)
    assert response.json()["reason"] == "not_open"


# --- the API item tells a source its item is late -----------------------------------------


def test_the_item_carries_due_overdue_escalated_and_assignee(world, people):
    world.queue.sla_minutes = 30
    world.queue.save()
    rec = add(world)
    body = world.client().get(f"/api/v1/recommendations/{rec.pk}").json()
    assert body["due_at"] is not None and body["overdue"] is False
    assert body["escalated_at"] is None and body["assigned_to"] is None
    Recommendation.objects.filter(pk=rec.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    assign(as_user(people.senior), rec.pk, "rita")
    body = world.client().get(f"/api/v1/recommendations/{rec.pk}").json()
    assert body["overdue"] is True and body["assigned_to"] == "rita"
