"""The audit trail: one append-only row per state change, written in the same transaction.

Tamper evidence. The database refuses UPDATE and DELETE on audit events (a trigger; see
migration 0007), and every event is hash-chained to the one before it in its chain:
`hash = sha256(prev_hash + the event's fields)` (reviewqueue/lib/audit_chain.py says
exactly which text). The database assigns `chain`, `seq`, `prev_hash` and `hash` while it
inserts the row, whoever inserts it (the ORM, COPY, the claim's single SQL statement), so
a chain costs no extra round trip. `python manage.py verify_audit` recomputes every chain.

Which chain: one per queue (`chain` = queue id, 0 for events without a queue, such as
configuration changes). A single global chain would make every audit write in the system
wait for the one before it to commit; per queue, queues stay independent of each other,
and the queue is the unit an auditor examines. Within a chain, writers are serialised by
the lock on the chain's head row (AuditChainHead), held until their transaction commits.
"""

from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16)  # user | source | system
    actor_user = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_source = models.ForeignKey(
        "reviewqueue.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)  # e.g. recommendation.created
    recommendation = models.ForeignKey(
        "reviewqueue.Recommendation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        db_index=False,
    )
    queue = models.ForeignKey(
        "reviewqueue.Queue", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)
    # Set by the database on insert, whatever the application sends (db_default: the ORM
    # leaves them to the database and reads the computed values back).
    chain = models.BigIntegerField(db_default=0, editable=False)  # queue id, 0: no queue
    seq = models.BigIntegerField(db_default=0, editable=False)  # 1, 2, ... per chain
    prev_hash = models.CharField(max_length=64, db_default="", editable=False)
    hash = models.CharField(max_length=64, db_default="", editable=False)  # hex sha256

    class Meta:
        indexes = [
            # An item's timeline.
            models.Index(fields=["recommendation", "id"], name="audit_rec_idx"),
            models.Index(fields=["occurred_at"], name="audit_time_idx"),
        ]
        constraints = [
            # Also the index verify_audit streams each chain along, in order.
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_uniq"),
        ]


class AuditChainHead(models.Model):
    """The last event of each chain: the row whose lock serialises a chain's writers, and
    what verify_audit compares the chain's end with (a deleted tail shows as a mismatch).
    Operators can record heads outside the database as an anchor. Written only by the
    database's chain trigger."""

    chain = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
