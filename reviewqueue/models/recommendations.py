"""Recommendations and the decisions made on them."""

from django.db import models
from django.db.models import DateTimeField, F, Func, IntegerField, JSONField, Q, TextField, Value
from django.utils import timezone

from reviewqueue.lib.ids import uuid7
from reviewqueue.states import DecisionKind, Outcome, Route, Status

# The items list (selectors/items.py) sorts by these expressions, so that every sort is one
# direction over a tuple of keys: keyset pagination is then one row comparison that an index
# can start from. `priority DESC, created_at ASC` is `(-priority, created_at)` ascending; an
# item without a due time sorts after every due one.
NEG_PRIORITY = F("priority") * -1
# The same, for queries: the -1 written into the SQL, not sent as a parameter. With
# server-side binding (settings: DATABASE_PREPARED_STATEMENTS) a parameter is a smallint
# `$n`, and `priority * $n` is not the indexed expression: the items list sorted 1M rows.
NEG_PRIORITY_SQL = Func(
    F("priority"), template="(%(expressions)s * -1)", output_field=IntegerField()
)
DUE_OR_NEVER = Func(
    F("due_at"),
    template="COALESCE(%(expressions)s, 'infinity'::timestamptz)",
    output_field=DateTimeField(),
)
# What the items list's text search (`q`) reads: the external id, the rationale and the
# payload's values (not its keys), one text. An IMMUTABLE SQL function (migration 0017) so that
# a trigram GIN index can be built over it (rec_search_trgm_idx, migration 0017).
SEARCH_TEXT = Func(
    F("external_id"),
    F("rationale"),
    F("payload"),
    function="reviewqueue_item_text",
    output_field=TextField(),
)


class Recommendation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    source = models.ForeignKey("reviewqueue.Source", on_delete=models.PROTECT)
    queue = models.ForeignKey("reviewqueue.Queue", on_delete=models.PROTECT)
    action_type = models.ForeignKey("reviewqueue.ActionType", on_delete=models.PROTECT)
    external_id = models.CharField(max_length=200)
    # SHA-256 of the canonical JSON of what the source posted: replays compare it.
    content_hash = models.CharField(max_length=64)
    payload = models.JSONField()
    confidence = models.FloatField()
    risk_score = models.FloatField()
    rationale = models.TextField(blank=True)
    evidence = models.JSONField(default=list)
    model_name = models.CharField(max_length=200)
    model_version = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=200, blank=True)
    priority = models.IntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict)
    route = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Route])
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in Status])
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(null=True, blank=True)  # created_at + the queue's SLA
    claimed_by = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # A senior or admin of the queue may assign an open item to one member: claim-next offers
    # it to them first (services/review.py; audited `recommendation.assigned`).
    assigned_to = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    overdue_at = models.DateTimeField(null=True, blank=True)
    # When the queue's `sla_warning_minutes` warning went out (once per item; services/sla.py).
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    qa_sampled = models.BooleanField(default=False)
    # Why the item waits for people although its stage would have let it execute:
    # [{"kind": "risk_ceiling|confidence_floor|outlier|volume", "detail": "..."}]
    # (domain/flags.py); set at ingest, never changed.
    # (db_default: rows written by SQL alone, e.g. a bulk load, need no flags column.)
    flags = models.JSONField(default=list, db_default=Value([], JSONField()), blank=True)
    # Consensus: how many reviewers' votes this item needs, the queue's reviewers_per_item
    # when it arrived (changing the queue later leaves items in flight alone).
    reviewers_needed = models.PositiveSmallIntegerField(default=1, db_default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="uniq_source_external_id"
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0, confidence__lte=1)
                & Q(risk_score__gte=0, risk_score__lte=1),
                name="recommendation_scores_in_unit_interval",
            ),
        ]
        indexes = [
            # The claim query: next waiting item of a queue, highest priority then oldest.
            # Partial, so it stays as small as the backlog rather than the history.
            # The claim: the next waiting item of a queue, highest priority then oldest. One
            # partial index per waiting status keeps each as small as that part of the
            # backlog, and lets a senior's pick of escalated items skip the pending ones.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "created_at",
                "id",
                name="rec_claim_pending_idx",
                condition=Q(status="pending"),
            ),
            models.Index(
                "queue",
                models.F("priority").desc(),
                "created_at",
                "id",
                name="rec_claim_escalated_idx",
                condition=Q(status="escalated"),
            ),
            # Blind review (shadow stage): the next shadow item to claim.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "created_at",
                "id",
                name="rec_claim_shadow_idx",
                condition=Q(status="shadow"),
            ),
            # The SLA and expiry sweeps: open items with a due or expiry time.
            models.Index(
                fields=["due_at"],
                name="rec_due_idx",
                condition=Q(status__in=["pending", "in_review", "escalated"], overdue_at=None)
                & Q(due_at__isnull=False),
            ),
            models.Index(
                fields=["expires_at"],
                name="rec_expires_idx",
                condition=Q(status__in=["pending", "in_review", "escalated"])
                & Q(expires_at__isnull=False),
            ),
            # The queue list counts recently expired items apart from the backlog.
            models.Index(
                fields=["queue", "closed_at"],
                name="rec_expired_idx",
                condition=Q(status="expired"),
            ),
            # The QA list: sampled auto-executed items of a queue.
            models.Index(
                fields=["queue", "-created_at"],
                name="rec_qa_sampled_idx",
                condition=Q(qa_sampled=True),
            ),
            # Claim-next looks for an open item assigned to the claimer first.
            models.Index(
                fields=["assigned_to", "queue"],
                name="rec_assigned_open_idx",
                condition=Q(status__in=["pending", "escalated"]) & Q(assigned_to__isnull=False),
            ),
            # Lease-expiry and SLA sweeps look only at open items.
            models.Index(
                fields=["lease_expires_at"],
                name="rec_lease_idx",
                condition=Q(status="in_review"),
            ),
            # A source's own listing, newest first, and its keyset cursor (created_at, id):
            # the id breaks ties within a batch, which shares one created_at.
            models.Index(fields=["source", "-created_at", "-id"], name="rec_source_created_id_idx"),
            # The anomaly baselines: an action type's latest items in a queue.
            models.Index(
                fields=["queue", "action_type", "-created_at"], name="rec_queue_type_created_idx"
            ),
            # The items list (selectors/items.py): one index per sort within a queue, and the
            # default sort within a queue and status (the claim indexes above are partial and
            # written `priority DESC`, which a keyset row comparison cannot start from).
            models.Index(
                F("queue"), NEG_PRIORITY, F("created_at"), F("id"), name="rec_list_priority_idx"
            ),
            models.Index(
                F("queue"),
                F("status"),
                NEG_PRIORITY,
                F("created_at"),
                F("id"),
                name="rec_list_status_priority_idx",
            ),
            models.Index(fields=["queue", "created_at", "id"], name="rec_list_created_idx"),
            models.Index(fields=["queue", "risk_score", "id"], name="rec_list_risk_idx"),
            models.Index(F("queue"), DUE_OR_NEVER, F("id"), name="rec_list_due_idx"),
            # Does a queue hold blind (shadow-route) items? (access.proposal_filters_refused)
            models.Index(
                fields=["queue"], name="rec_shadow_route_idx", condition=Q(route="shadow")
            ),
            # Not declared here: the text search's GIN trigram index over SEARCH_TEXT,
            # `rec_search_trgm_idx`, is migration 0017's SQL (Django declares an operator
            # class on an expression only with contrib.postgres installed).
            # Flagged items of a queue (reports, the flagged filter); partial, so as small as
            # the flagged part of the history.
            models.Index(
                fields=["queue", "created_at"],
                name="rec_flagged_idx",
                condition=~Q(flags=[]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.status})"


class UndoneDecision(models.Model):
    """A decision its reviewer took back within the queue's undo window
    (services/undo.py): kept here as it was, with its execution as it stood, never counted
    in metrics. The item went back to the reviewer; its next decision is a new Decision."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.PROTECT, related_name="undone_decisions"
    )
    queue = models.ForeignKey("reviewqueue.Queue", on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(
        "reviewqueue.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()
    undone_at = models.DateTimeField(default=timezone.now)
    decision = models.JSONField()  # the Decision row's fields as they were
    execution = models.JSONField(null=True)  # its execution (never started), if any

    class Meta:
        indexes = [models.Index(fields=["recommendation", "undone_at"], name="undone_rec_idx")]


class Vote(models.Model):
    """One reviewer's decision on an item that needs several (consensus,
    services/consensus.py). Never shown to the other voters before the item is resolved;
    the Decision is written once, when the votes agree or a senior settles a disagreement.
    A vote taken back within the undo window is deleted (its text stays in the audit)."""

    recommendation = models.ForeignKey(
        Recommendation, on_delete=models.PROTECT, related_name="votes"
    )
    queue = models.ForeignKey("reviewqueue.Queue", on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey("reviewqueue.User", on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=16, choices=[(o.value, o.value) for o in Outcome])
    payload = models.JSONField(null=True, blank=True)  # the final payload (None for reject)
    payload_hash = models.CharField(max_length=64, blank=True)  # canonical JSON's hash
    diff = models.JSONField(default=list)
    is_cosmetic = models.BooleanField(null=True)
    agreed = models.BooleanField(null=True)  # blind review: matched the hidden proposal
    reason_code = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    bulk = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One vote per person per item: the claim also skips items the caller voted on.
            models.UniqueConstraint(
                fields=["recommendation", "reviewer"], name="uniq_vote_per_reviewer"
            ),
        ]
        indexes = [
            # Inter-reviewer agreement (reporting/agreement.py): a queue's votes in a range.
            models.Index(fields=["queue", "created_at"], name="vote_queue_time_idx"),
        ]


class Decision(models.Model):
    """The one verdict on a recommendation. Query-relevant facts are copied from the
    recommendation (immutable there) so metrics read one table."""

    recommendation = models.OneToOneField(
        Recommendation, on_delete=models.PROTECT, related_name="decision"
    )
    kind = models.CharField(max_length=16, choices=[(k.value, k.value) for k in DecisionKind])
    outcome = models.CharField(max_length=16, choices=[(o.value, o.value) for o in Outcome])
    payload = models.JSONField(null=True, blank=True)  # the final payload (None for reject)
    payload_hash = models.CharField(max_length=64, blank=True)
    diff = models.JSONField(default=list)
    is_cosmetic = models.BooleanField(null=True)
    reason_code = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    queue = models.ForeignKey("reviewqueue.Queue", on_delete=models.PROTECT, related_name="+")
    action_type = models.ForeignKey(
        "reviewqueue.ActionType", on_delete=models.PROTECT, related_name="+"
    )
    source = models.ForeignKey("reviewqueue.Source", on_delete=models.PROTECT, related_name="+")
    model_name = models.CharField(max_length=200)
    model_version = models.CharField(max_length=200)
    prompt_version = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()  # the recommendation's created_at
    claimed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(default=timezone.now)
    # The recommendation had anomaly flags.
    flagged = models.BooleanField(default=False, db_default=False)
    # Decided in a bulk decision (services/bulk.py): each item on its own, marked here.
    bulk = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [
            # Trend reports: one queue over a time range.
            models.Index(fields=["queue", "decided_at"], name="decision_queue_time_idx"),
            models.Index(fields=["decided_at"], name="decision_time_idx"),
        ]
