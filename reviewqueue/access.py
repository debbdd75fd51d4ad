"""Who may do what. Every "may this user review this queue" question is answered here;
services, selectors and views ask, nothing else checks roles against memberships.

Reviewing (claim, decide, escalate, release) is for active members of the queue. A
membership is necessary, never sufficient: an auditor reads every queue and reviews none,
so a membership (however it came to exist) gives an auditor nothing, and no path creates
one (`membership_refusal`).

Reading is wider: admins and auditors read every queue (`reads_every_queue`); anyone else
reads only the queues they are a member of (`can_read_queue`, `visible_recommendations`).
Changing how queues run (stages, breaker, incidents, retrying executions) is for admins
(`can_administer_queues`). Templates ask through the `access` context processor
(`access_flags`), so a page never checks a role itself. The roles themselves are defined
by `User.is_admin_role` and `User.can_read_reports` (models/config.py).
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from reviewqueue.lib.lookup import by_unique_key
from reviewqueue.models import Membership, PersonalToken, Queue, Recommendation, User
from reviewqueue.states import MemberRole, Role, Route, Status

# The member role that also takes escalated items (read by the claim statement too).
ESCALATION_ROLE = MemberRole.SENIOR


def may_review_anything(user: User) -> bool:
    """The part of the rule that depends on the person alone: active, and not an auditor.
    For callers that read the membership in their own query (the claim statement)."""
    return user.is_active and user.role != Role.AUDITOR


def member_role_of(user: User) -> Subquery:
    """An expression for a query over items: `user`'s member role in each item's queue (NULL:
    not a member), so a service loads an item and the caller's role in one query and then
    asks `member_may_review`."""
    return Subquery(
        Membership.objects.filter(queue=OuterRef("queue"), user=user).values("role")[:1]
    )


def member_may_review(user: User, member_role: str | None) -> bool:
    """The rule, given the user's role in the queue (None: not a member), for callers that
    already loaded the membership with the item."""
    return member_role is not None and may_review_anything(user)


def review_role(user: User, queue: Queue) -> MemberRole | None:
    """The user's role in reviewing `queue` (seniors also take escalated items), or None
    when they may not review it."""
    if not may_review_anything(user):
        return None
    role = by_unique_key(
        Membership.objects.filter(user=user, queue=queue).values_list("role", flat=True)
    )
    return MemberRole(role) if role is not None else None


def can_review(user: User, queue: Queue) -> bool:
    """May `user` claim, decide, escalate and release items of `queue`?"""
    return review_role(user, queue) is not None


def membership_refusal(role: str) -> str | None:
    """Why a person with this app role may not be a member of a queue, or None. Asked by
    every path that creates memberships (apply_config, create_user, the admin)."""
    if role == Role.AUDITOR:
        return (
            "an auditor reads every queue and reviews none, so an auditor is never a queue member"
        )
    return None


def member_role_for(role: str) -> MemberRole:
    """The role a person joins a queue with when a command adds them: seniors and admins
    also take escalated items."""
    return MemberRole.SENIOR if role in (Role.SENIOR, Role.ADMIN) else MemberRole.REVIEWER


def has_django_admin(role: str) -> bool:
    """Whether the app role opens the Django admin (staff and superuser follow the role)."""
    return role == Role.ADMIN


def can_administer_queues(user: User) -> bool:
    """May `user` change how queues run: move stages, record and resolve incidents?"""
    return user.is_active and user.is_admin_role


def can_read_incidents(user: User) -> bool:
    """May `user` read a queue's incidents? Admins and auditors, who read every queue;
    reviewers see the readiness gate's count, not the incidents themselves."""
    return user.is_active and user.can_read_reports


def sees_proposals(user: User) -> bool:
    """May `user` see the AI's proposals of shadow items (and how blind answers compared)?
    Admins and auditors, to study disagreements; reviewers never, before or after deciding
    (seeing past proposals, or whether they matched, would teach what the AI tends to say)."""
    return reads_every_queue(user)


def proposal_hidden(user: User, rec: Recommendation) -> bool:
    """Blind review: is the proposal of `rec` (and the outcome of a blind decision on it,
    approve vs modify, which says whether the answer matched it) hidden from `user`?"""
    return rec.route == Route.SHADOW and not sees_proposals(user)


def proposal_filters_refused(user: User, queue: Queue, *, route: str | None) -> bool:
    """May `user` not filter or sort `queue`'s items by what blind review hides (risk,
    confidence, rationale, payload)? Refused when they do not see proposals and the list could
    hold blind (shadow-route) items: it has some, and the request does not keep to another
    route. A narrowed list would tell them what is hidden. (One indexed EXISTS.)"""
    if sees_proposals(user) or (route is not None and route != Route.SHADOW):
        return False
    return Recommendation.objects.filter(queue=queue, route=Route.SHADOW).exists()


def may_see_blind_answer(user: User, reviewer_id: int | None) -> bool:
    """A blind decision's payload is the reviewer's own answer: they see it (and so do those
    who see proposals); other reviewers of the queue do not."""
    return sees_proposals(user) or (reviewer_id is not None and reviewer_id == user.pk)


def may_see_votes(user: User, rec: Recommendation, *, senior: bool) -> bool:
    """Consensus: may `user` see the votes on `rec` (who voted what)? Votes are independent,
    so while the item still collects them nobody who reviews sees the others'; once it is
    escalated, its seniors (`senior`: their role in its queue takes escalated items) see
    every vote to decide; once decided, every reader of the item; admins and auditors
    always (to study agreement). A voter always sees their own vote (not asked here)."""
    if reads_every_queue(user):
        return True
    if rec.status in (Status.DECIDED, Status.EXPIRED):
        return True
    return senior and rec.escalated_at is not None


def may_revoke_token(user: User, token: PersonalToken) -> bool:
    """A personal token is revoked by its owner (the settings page) or an admin (the Django
    admin, revoke_token); nobody else learns that it exists."""
    return user.is_active and (token.user_id == user.pk or user.is_admin_role)


def reads_every_queue(user: User) -> bool:
    """Admins and auditors read every queue's items and reports (and so may learn which
    queues exist); anyone else reads only the queues they are a member of."""
    return user.is_active and user.can_read_reports


def is_member(user: User, queue_id: int) -> bool:
    """Active and a member of the queue (whatever the member role)."""
    return user.is_active and Membership.objects.filter(user=user, queue_id=queue_id).exists()


def can_read_queue(user: User, queue: Queue) -> bool:
    """May `user` read `queue` (its page, stage history, QA list, items)? Admins and
    auditors read every queue; anyone else only the queues they are a member of."""
    return reads_every_queue(user) or is_member(user, queue.pk)


def can_read_item(user: User, rec: Recommendation) -> bool:
    """May `user` read the item `rec`? The same rule as its queue."""
    return reads_every_queue(user) or is_member(user, rec.queue_id)


def visible_recommendations(user: User, qs: QuerySet[Recommendation]) -> QuerySet[Recommendation]:
    """`qs` narrowed to the items `user` may read (in the same query)."""
    if reads_every_queue(user):
        return qs
    if not user.is_active:
        return qs.none()
    return qs.filter(queue__memberships__user=user)


def visible_queues(user: User, qs: QuerySet[Queue]) -> QuerySet[Queue]:
    """`qs` narrowed to the queues `user` may read."""
    if reads_every_queue(user):
        return qs
    if not user.is_active:
        return qs.none()
    return qs.filter(memberships__user=user)


def queue_roles(user: User) -> dict[int, MemberRole]:
    """The user's member role in each queue they belong to (queue id → role), one query."""
    if not may_review_anything(user):
        return {}
    rows = Membership.objects.filter(user=user).values_list("queue_id", "role")
    return {queue_id: MemberRole(role) for queue_id, role in rows}


def takes_escalated(member_role: str | None) -> bool:
    """Does this member role also take escalated items?"""
    return member_role == ESCALATION_ROLE


def escalation_takers(queue_ids: Iterable[int]) -> dict[int, list[User]]:
    """Who takes each queue's escalated items (queue id -> people): its active members of
    the escalation role who may review (seniors, and admins, who join as seniors). For
    notifications of escalations."""
    return _members_by_queue(queue_ids, roles=[ESCALATION_ROLE])


def queue_reviewers(queue_ids: Iterable[int]) -> dict[int, list[User]]:
    """Everyone who may review each queue (queue id -> people), whatever their member role."""
    return _members_by_queue(queue_ids, roles=None)


def queue_leads(queue: Queue) -> list[User]:
    """Who hears about how a queue runs (a breaker trip, a stage ready to move): its
    escalation takers and the active admins."""
    people = {u.pk: u for u in escalation_takers([queue.pk]).get(queue.pk, [])}
    for admin in User.objects.filter(is_active=True).filter(
        Q(role=Role.ADMIN) | Q(is_superuser=True)
    ):
        people.setdefault(admin.pk, admin)
    return list(people.values())


def _members_by_queue(
    queue_ids: Iterable[int], *, roles: list[MemberRole] | None
) -> dict[int, list[User]]:
    memberships = Membership.objects.filter(
        queue_id__in=list(queue_ids), user__is_active=True
    ).exclude(user__role=Role.AUDITOR)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    out: dict[int, list[User]] = {}
    for m in memberships.select_related("user").order_by("queue_id", "user_id"):
        out.setdefault(m.queue_id, []).append(m.user)
    return out


def may_assign(user: User, queue: Queue) -> bool:
    """May `user` assign the queue's items to its reviewers? Its seniors, and admins."""
    return can_administer_queues(user) or takes_escalated(review_role(user, queue))


def may_give_qa_verdict(user: User, queue: Queue) -> bool:
    """QA verdicts on a queue's auto-approved items are given by the people who review it."""
    return can_review(user, queue)


def may_read_audit(user: User) -> bool:
    """The audit trail's export: admins and auditors."""
    return reads_every_queue(user)


def may_read_executions(user: User) -> bool:
    """The dead-execution list, and learning that an execution exists: admins and auditors."""
    return reads_every_queue(user)


def may_see_error_detail(user: User) -> bool:
    """A failed attempt's response detail (what the target answered) may hold anything the
    target echoed: admins only."""
    return user.is_active and user.is_admin_role


def access_flags(request: Any) -> dict[str, Any]:
    """Context processor: what the signed-in person may do, for templates (`access.*`)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"access": {}}
    return {
        "access": {
            "administer": can_administer_queues(user),
            "reads_every_queue": reads_every_queue(user),
            "see_error_detail": may_see_error_detail(user),
        }
    }
