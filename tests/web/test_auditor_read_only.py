"""An auditor reads and never reviews (issue 14, finding 8). The attack: an auditor who holds
a queue membership (made by `create_user --role auditor --queues x`, the admin's member
inline, apply_config's [[members]], or left over from before this rule) claims and decides
items. Now no path makes such a membership, and one left over grants nothing."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from reviewqueue.exceptions import ConfigError, Forbidden
from reviewqueue.models import Decision, Membership, Recommendation, User
from reviewqueue.services.audit import Actor
from reviewqueue.services.review import (
    recommendation_claim,
    recommendation_decide,
    recommendation_escalate,
    recommendation_release,
)
from reviewqueue.services.setup import config_apply
from tests.api.test_review import add, as_user
from tests.factories import member
from tests.web.test_admin import admin_client, change_form_data


@pytest.fixture
def auditor(world, people):
    """The auditor with a membership that predates the rule (written past every service)."""
    member(people.auditor, world.queue, role="senior")
    return people.auditor


def held_by(user, rec: Recommendation) -> Recommendation:
    """`rec` as if `user` had claimed it before the rule existed."""
    Recommendation.objects.filter(pk=rec.pk).update(
        status="in_review",
        claimed_by=user,
        claimed_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(minutes=10),
    )
    return rec


def test_the_access_rule_gives_an_auditor_no_review_even_as_a_member(world, people, auditor):
    from reviewqueue import access

    assert access.review_role(auditor, world.queue) is None
    assert not access.can_review(auditor, world.queue)
    assert access.can_review(people.reviewer, world.queue)


def test_an_auditor_member_cannot_claim(world, auditor):
    add(world)
    with pytest.raises(Forbidden):
        recommendation_claim(user=auditor, queue=world.queue)
    response = as_user(auditor).post("/api/v1/queues/refunds/claim")
    assert response.status_code == 403
    assert not Recommendation.objects.filter(claimed_by=auditor).exists()


def test_an_auditor_does_not_get_back_an_item_held_from_before(world, auditor):
    held_by(auditor, add(world))
    with pytest.raises(Forbidden):
        recommendation_claim(user=auditor, queue=world.queue)
    assert as_user(auditor).post("/api/v1/queues/refunds/claim").status_code == 403


def test_an_auditor_member_cannot_open_the_review_page(client, world, auditor):
    add(world)
    client.force_login(auditor)
    response = client.get("/queues/refunds/review/")
    assert response.status_code == 403
    assert not Recommendation.objects.filter(claimed_by=auditor).exists()


@pytest.mark.parametrize("how", ["service", "api", "page"])
def test_an_auditor_member_cannot_decide_an_item_they_hold(client, world, auditor, how):
    rec = held_by(auditor, add(world))
    if how == "service":
        with pytest.raises(Forbidden):
            recommendation_decide(user=auditor, recommendation_id=rec.pk, outcome="approve")
    elif how == "api":
        response = as_user(auditor).post(
            f"/api/v1/recommendations/{rec.pk}/decision",
            data=json.dumps({"outcome": "approve"}),
            content_type="application/json",
        )
        assert response.status_code == 403
    else:
        client.force_login(auditor)
        response = client.post(f"/queues/refunds/review/{rec.pk}/decide", {"outcome": "approve"})
        assert response.status_code == 403
    assert not Decision.objects.filter(recommendation=rec).exists()


@pytest.mark.parametrize("how", ["service", "api", "page"])
def test_an_auditor_member_cannot_escalate(client, world, auditor, how):
    rec = held_by(auditor, add(world))
    if how == "service":
        with pytest.raises(Forbidden):
            recommendation_escalate(user=auditor, recommendation_id=rec.pk, comment="x")
    elif how == "api":
        response = as_user(auditor).post(
            f"/api/v1/recommendations/{rec.pk}/escalate",
            data=json.dumps({"comment": "x"}),
            content_type="application/json",
        )
        assert response.status_code == 403
    else:
        client.force_login(auditor)
        response = client.post(f"/queues/refunds/review/{rec.pk}/escalate", {"comment": "x"})
        assert response.status_code == 403
    assert Recommendation.objects.get(pk=rec.pk).escalated_at is None


@pytest.mark.parametrize("how", ["service", "api", "page"])
def test_an_auditor_member_cannot_release(client, world, auditor, how):
    rec = held_by(auditor, add(world))
    if how == "service":
        with pytest.raises(Forbidden):
            recommendation_release(user=auditor, recommendation_id=rec.pk)
    elif how == "api":
        response = as_user(auditor).post(f"/api/v1/recommendations/{rec.pk}/release")
        assert response.status_code == 403
    else:
        client.force_login(auditor)
        response = client.post(f"/queues/refunds/review/{rec.pk}/release")
        assert response.status_code == 403
    assert Recommendation.objects.get(pk=rec.pk).status == "in_review"


def test_create_user_refuses_an_auditor_with_queues(world, monkeypatch):
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    with pytest.raises(CommandError, match="auditor"):
        call_command("create_user", "audrey", "--role", "auditor", "--queues", "refunds")
    assert not User.objects.filter(username="audrey").exists()


def test_a_member_who_becomes_an_auditor_leaves_every_queue(world, monkeypatch):
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    call_command(
        "create_user", "rita", "--role", "reviewer", "--queues", "refunds", stdout=io.StringIO()
    )
    call_command("create_user", "rita", "--role", "auditor", stdout=io.StringIO())
    assert not Membership.objects.filter(user__username="rita").exists()


def test_apply_config_refuses_an_auditor_member(world, people):
    assert people.auditor.username == "audrey"
    text = '[[members]]\nuser = "audrey"\nqueues = ["refunds"]\n'
    with pytest.raises(ConfigError) as info:
        config_apply(text=text, actor=Actor.system("test"))
    assert any(p.startswith("members[0].user: 'audrey' is an auditor") for p in info.value.problems)
    assert not Membership.objects.filter(user__username="audrey").exists()


def test_the_admin_member_inline_refuses_an_auditor(client, world, people):
    audrey = people.auditor
    admin_client(client)
    data = change_form_data(client, f"/admin/reviewqueue/queue/{world.queue.pk}/change/")
    data.update(
        {
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": str(audrey.pk),
            "memberships-0-role": "reviewer",
            "memberships-0-queue": str(world.queue.pk),
        }
    )
    response = client.post(f"/admin/reviewqueue/queue/{world.queue.pk}/change/", data)
    assert response.status_code == 200
    assert "an auditor is never a queue member" in response.content.decode()
    assert not Membership.objects.filter(user=audrey).exists()
