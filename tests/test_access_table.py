"""Every rule of access.py, for every kind of person, in one table. A change of who may do
what changes a row here, on purpose."""

import pytest

from reviewqueue import access
from reviewqueue.models import Recommendation
from reviewqueue.services.ingest import recommendation_ingest
from tests.conftest import item
from tests.factories import UserFactory, member

# Persons: (app role, member role in the "refunds" queue or None, active)
PERSONS = {
    "reviewer": ("reviewer", "reviewer", True),
    "senior": ("senior", "senior", True),
    "admin member": ("admin", "senior", True),
    "admin": ("admin", None, True),
    "auditor": ("auditor", None, True),
    "outsider": ("reviewer", None, True),
    "inactive reviewer": ("reviewer", "reviewer", False),
}

# action → the persons who may do it. Every person not named may not.
TABLE = {
    "review the queue": {"reviewer", "senior", "admin member"},
    "take escalated items": {"senior", "admin member"},
    "give QA verdicts": {"reviewer", "senior", "admin member"},
    "read the queue": {"reviewer", "senior", "admin member", "admin", "auditor"},
    "read its items": {"reviewer", "senior", "admin member", "admin", "auditor"},
    "see shadow proposals": {"admin member", "admin", "auditor"},
    "administer queues": {"admin member", "admin"},
    "read incidents": {"admin member", "admin", "auditor"},
    "read the audit trail": {"admin member", "admin", "auditor"},
    "read dead executions": {"admin member", "admin", "auditor"},
    "see a target's error detail": {"admin member", "admin"},
    # Notifications (issue 18 #4): who hears of an escalation, of an item near its SLA, of a
    # breaker trip or a ready stage.
    "hear of escalations": {"senior", "admin member"},
    "hear of items near their SLA": {"reviewer", "senior", "admin member"},
    "hear how the queue runs": {"senior", "admin member", "admin"},
}


def answers(user, queue, rec) -> dict[str, bool]:
    roles = access.queue_roles(user)
    return {
        "review the queue": access.can_review(user, queue),
        "take escalated items": access.takes_escalated(roles.get(queue.pk)),
        "give QA verdicts": access.may_give_qa_verdict(user, queue),
        "read the queue": access.can_read_queue(user, queue),
        "read its items": access.can_read_item(user, rec)
        and access.visible_recommendations(user, Recommendation.objects.all()).count() == 1,
        "see shadow proposals": access.sees_proposals(user),
        "administer queues": access.can_administer_queues(user),
        "read incidents": access.can_read_incidents(user),
        "read the audit trail": access.may_read_audit(user),
        "read dead executions": access.may_read_executions(user),
        "see a target's error detail": access.may_see_error_detail(user),
        "hear of escalations": user in access.escalation_takers([queue.pk]).get(queue.pk, []),
        "hear of items near their SLA": user
        in access.queue_reviewers([queue.pk]).get(queue.pk, []),
        "hear how the queue runs": user in access.queue_leads(queue),
    }


@pytest.mark.parametrize("person", list(PERSONS))
def test_what_each_person_may_do(world, person):
    app_role, member_role, active = PERSONS[person]
    user = UserFactory(username=person.replace(" ", "-"), role=app_role, is_active=active)
    if member_role:
        member(user, world.queue, member_role)
    rec, _ = recommendation_ingest(source=world.source, data=item())
    expected = {action: person in allowed for action, allowed in TABLE.items()}
    assert answers(user, world.queue, rec) == expected


def test_an_auditor_is_never_a_member():
    assert access.membership_refusal("auditor")
    assert access.membership_refusal("reviewer") is None
