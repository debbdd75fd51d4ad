"""Who may see what, and which decisions count: the queues and reviewer a request may see
(`metrics_scope`), and the filters that follow from it (`TrendFilters`), with names
resolved to ids. Only human decisions count unless told otherwise."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db.models import QuerySet

from reviewqueue import access
from reviewqueue.exceptions import Forbidden, NotFound, ValidationFailed
from reviewqueue.models import ActionType, Decision, Queue, Source, User
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.states import DecisionKind, Route

# Part of every memo signature: change it when a definition changes and old memos are ignored.
DEFINITIONS_VERSION = "trend-v1"


@dataclass(frozen=True)
class TrendFilters:
    """Which human decisions count: resolved ids, after the permission check."""

    queue_ids: tuple[int, ...]
    action_type_id: int | None = None
    source_id: int | None = None
    model_name: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    reviewer_id: int | None = None
    # A reviewer's own numbers leave out blind (shadow) decisions: their outcomes, edited
    # fields and agreement would tell whether the answers matched the hidden proposals.
    without_blind: bool = False

    def signature(self) -> str:
        body = {"v": DEFINITIONS_VERSION, **self.__dict__, "queue_ids": sorted(self.queue_ids)}
        if not self.without_blind:
            del body["without_blind"]  # the signatures remembered before the field existed
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def memoisable(self) -> bool:
        """May numbers under these filters be remembered? Only for cuts that exist: the ids
        (queues, action type, source, reviewer) were resolved from rows already, but the
        version filters are free text, so each new value would otherwise start a memo of
        its own (issue 14 #5: a client could grow the memo without bound). A version that
        no decision of these queues carries is counted, never remembered."""
        if not self.queue_ids:
            return False
        texts = {
            name: value
            for name in ("model_name", "model_version", "prompt_version")
            if (value := getattr(self, name)) is not None
        }
        if not texts:
            return True
        return Decision.objects.filter(queue_id__in=self.queue_ids, **texts).exists()

    def without_versions(self) -> "TrendFilters":
        """The same filters for any model or prompt version (to compare versions)."""
        return replace(self, model_name=None, model_version=None, prompt_version=None)

    def decisions(self, kinds: Sequence[str] = (DecisionKind.HUMAN,)) -> QuerySet[Decision]:
        """The decisions these filters select (every time range); human ones unless told."""
        qs = Decision.objects.filter(queue_id__in=self.queue_ids)
        # One kind as `=`, so the planner can use the partial index on human decisions.
        qs = qs.filter(kind=kinds[0]) if len(kinds) == 1 else qs.filter(kind__in=list(kinds))
        if self.action_type_id is not None:
            qs = qs.filter(action_type_id=self.action_type_id)
        if self.source_id is not None:
            qs = qs.filter(source_id=self.source_id)
        if self.model_name is not None:
            qs = qs.filter(model_name=self.model_name)
        if self.model_version is not None:
            qs = qs.filter(model_version=self.model_version)
        if self.prompt_version is not None:
            qs = qs.filter(prompt_version=self.prompt_version)
        if self.reviewer_id is not None:
            qs = qs.filter(reviewer_id=self.reviewer_id)
        if self.without_blind:
            qs = qs.exclude(recommendation__route=Route.SHADOW)
        return qs


@dataclass(frozen=True)
class Scope:
    """What a user may see: admins and auditors every queue and reviewer; anyone else only
    their own decisions in the queues they are a member of."""

    queues: list[Queue]
    reviewer: User | None
    own_numbers_only: bool


def metrics_scope(*, user: User, queue: str | None = None, reviewer: str | None = None) -> Scope:
    """The queues and reviewer a request may see. For admins and auditors, who read every
    queue, unknown names are 400 (keyed by parameter). Anyone else: another reviewer's
    numbers are 403 (whether that person exists or not), and a queue they are not a member
    of is 404, the same answer as a queue that does not exist, so queue names cannot be
    probed (as for items)."""
    found = Queue.objects.filter(slug=queue).first() if queue else None
    if access.reads_every_queue(user):
        if queue and found is None:
            raise ValidationFailed(
                f"No queue '{queue}'.", errors={"queue": f"Unknown queue '{queue}'."}
            )
        person = None
        if reviewer:
            person = User.objects.filter(username=reviewer).first()
            if person is None:
                raise ValidationFailed(
                    f"No reviewer '{reviewer}'.",
                    errors={"reviewer": f"Unknown reviewer '{reviewer}'."},
                )
        queues = [found] if found else list(Queue.objects.order_by("name"))
        return Scope(queues=queues, reviewer=person, own_numbers_only=False)
    if reviewer and reviewer != user.get_username():
        raise Forbidden("You may see your own numbers only.")
    member_of = access.visible_queues(user, Queue.objects.all()).order_by("name")
    if queue:
        if found is None or not member_of.filter(pk=found.pk).exists():
            raise NotFound(f"No queue '{queue}'.")
        return Scope(queues=[found], reviewer=user, own_numbers_only=True)
    return Scope(queues=list(member_of), reviewer=user, own_numbers_only=True)


def filters_for(request: TrendRequest, scope: Scope) -> TrendFilters:
    """Resolve names to ids; an unknown action type or source is 400."""
    errors: dict[str, str] = {}
    action_type_id = source_id = None
    if request.action_type:
        action_type_id = (
            ActionType.objects.filter(name=request.action_type).values_list("pk", flat=True).first()
        )
        if action_type_id is None:
            errors["action_type"] = f"Unknown action type '{request.action_type}'."
    if request.source:
        source_id = Source.objects.filter(name=request.source).values_list("pk", flat=True).first()
        if source_id is None:
            errors["source"] = f"Unknown source '{request.source}'."
    if errors:
        raise ValidationFailed("Unknown filter value.", errors=errors)
    return TrendFilters(
        queue_ids=tuple(sorted(q.pk for q in scope.queues)),
        action_type_id=action_type_id,
        source_id=source_id,
        model_name=request.model_name,
        model_version=request.model_version,
        prompt_version=request.prompt_version,
        reviewer_id=scope.reviewer.pk if scope.reviewer else None,
        without_blind=scope.own_numbers_only,
    )
