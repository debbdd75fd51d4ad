"""Configuration: who may post where, what actions exist, who reviews."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewqueue import config_schema
from reviewqueue.states import MemberRole, Role, Stage

STAGE_CHOICES = [(s.value, s.value) for s in Stage]


# A configuration field's default is the configuration file's (reviewqueue/config_schema.py,
# the one description of apply_config's TOML and of docs/configuration.md).
def _action(key: str) -> object:
    return config_schema.model_default("action_types", key)


def _queue(key: str) -> object:
    return config_schema.model_default("queues", key)


class User(AbstractUser):
    role = models.CharField(
        max_length=16, choices=[(r.value, r.value) for r in Role], default=Role.REVIEWER
    )

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def can_read_reports(self) -> bool:
        return self.is_admin_role or self.role == Role.AUDITOR


class ActionType(models.Model):
    name = models.CharField(max_length=100, unique=True)
    executor = models.CharField(max_length=200, default=_action("executor"))
    url = models.URLField(max_length=2000, blank=True)
    signing_secret_env = models.CharField(max_length=200, blank=True)
    payload_schema = models.JSONField(default=dict)  # required in a file
    cosmetic_fields = models.JSONField(default=_action("cosmetic_fields"))
    always_review = models.BooleanField(default=_action("always_review"))
    timeout_seconds = models.FloatField(default=_action("timeout_seconds"))
    max_attempts = models.PositiveIntegerField(default=_action("max_attempts"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # What must never be stored, whichever path writes it (services/config_check.py
        # says the same in words before anything is written).
        constraints = [
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1),
                name="action_type_max_attempts_positive",
                violation_error_message="max_attempts must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gt=0, timeout_seconds__lte=300),
                name="action_type_timeout_in_range",
                violation_error_message="timeout_seconds must be above 0 and at most 300.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Queue(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    stage = models.CharField(
        max_length=16,
        choices=STAGE_CHOICES,
        default=Stage(config_schema.default("queues", "stage")),
    )
    action_types = models.ManyToManyField(ActionType, through="QueueActionType", related_name="+")
    # Codes (strings) or tables {code, label, description}, mixed; domain/reasons.py reads
    # them (`codes` for checks and rows, `reasons` for the page).
    reason_codes = models.JSONField(default=_queue("reason_codes"))
    # Markdown; rendered and sanitised by lib/markdown.py.
    guidelines = models.TextField(default=_queue("guidelines"), blank=True)
    sla_minutes = models.PositiveIntegerField(null=True, blank=True)
    sla_escalate = models.BooleanField(default=_queue("sla_escalate"))
    # Minutes before due_at when people are warned (0 or NULL: never); notifications.
    sla_warning_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The chat webhook gets this queue's events (REVIEWQUEUE_CHAT_WEBHOOK_URL).
    chat = models.BooleanField(default=_queue("chat"))
    lease_minutes = models.PositiveIntegerField(default=_queue("lease_minutes"))
    bulk_max_risk = models.FloatField(default=_queue("bulk_max_risk"))
    undo_seconds = models.PositiveIntegerField(default=_queue("undo_seconds"))
    # Consensus (services/consensus.py): copied onto each item when it arrives.
    reviewers_per_item = models.PositiveSmallIntegerField(default=_queue("reviewers_per_item"))
    blind_review = models.BooleanField(default=_queue("blind_review"))
    # Routing (supervised / autonomous).
    auto_max_risk = models.FloatField(default=_queue("routing.auto_max_risk"))
    auto_min_confidence = models.FloatField(default=_queue("routing.auto_min_confidence"))
    escalate_min_risk = models.FloatField(default=_queue("routing.escalate_min_risk"))
    qa_sample_rate = models.FloatField(default=_queue("routing.qa_sample_rate"))
    hard_risk_ceiling = models.FloatField(null=True, blank=True)
    # Anomaly flags (supervised / autonomous; domain/flags.py): an item flagged by any of
    # these waits for people instead of executing.
    hard_confidence_floor = models.FloatField(null=True, blank=True)
    max_per_5min = models.PositiveIntegerField(null=True, blank=True)
    # {"fields": ["amount"], "z": 4.0, "window": 1000}; {} for none.
    anomaly = models.JSONField(default=_queue("anomaly"), blank=True)
    # Circuit breaker: over the last `breaker_window` auto-executed items.
    breaker_window = models.PositiveIntegerField(default=_queue("breaker.window"))
    breaker_max_failure_rate = models.FloatField(default=_queue("breaker.max_failure_rate"))
    breaker_max_qa_rejection_rate = models.FloatField(
        default=_queue("breaker.max_qa_rejection_rate")
    )
    breaker_tripped_at = models.DateTimeField(null=True, blank=True)
    breaker_reason = models.TextField(blank=True)
    # Readiness gate overrides, e.g. {"shadow_min_agreement": 0.85}.
    readiness = models.JSONField(default=_queue("readiness"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(auto_max_risk__gte=0, auto_max_risk__lte=1)
                & Q(auto_min_confidence__gte=0, auto_min_confidence__lte=1)
                & Q(escalate_min_risk__gte=0, escalate_min_risk__lte=1)
                & Q(qa_sample_rate__gte=0, qa_sample_rate__lte=1),
                name="queue_thresholds_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=Q(hard_risk_ceiling__isnull=True)
                | Q(hard_risk_ceiling__gte=0, hard_risk_ceiling__lte=1),
                name="queue_hard_risk_ceiling_in_unit_interval",
                violation_error_message="hard_risk_ceiling must be empty or from 0 to 1.",
            ),
            models.CheckConstraint(
                condition=Q(hard_confidence_floor__isnull=True)
                | Q(hard_confidence_floor__gte=0, hard_confidence_floor__lte=1),
                name="queue_hard_confidence_floor_in_unit_interval",
                violation_error_message="hard_confidence_floor must be empty or from 0 to 1.",
            ),
            models.CheckConstraint(
                condition=Q(max_per_5min__isnull=True) | Q(max_per_5min__gte=1),
                name="queue_max_per_5min_positive",
                violation_error_message="max_per_5min must be empty or at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(breaker_max_failure_rate__gte=0, breaker_max_failure_rate__lte=1)
                & Q(breaker_max_qa_rejection_rate__gte=0, breaker_max_qa_rejection_rate__lte=1),
                name="queue_breaker_rates_in_unit_interval",
                violation_error_message="Breaker rates must be from 0 to 1.",
            ),
            # The breaker divides by its window; a lease or an SLA of 0 minutes means nothing.
            models.CheckConstraint(
                condition=Q(breaker_window__gte=1),
                name="queue_breaker_window_positive",
                violation_error_message="breaker_window must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(lease_minutes__gte=1),
                name="queue_lease_minutes_positive",
                violation_error_message="lease_minutes must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(reviewers_per_item__gte=1, reviewers_per_item__lte=3),
                name="queue_reviewers_per_item_1_to_3",
                violation_error_message="reviewers_per_item must be from 1 to 3.",
            ),
            models.CheckConstraint(
                condition=Q(sla_minutes__isnull=True) | Q(sla_minutes__gte=1),
                name="queue_sla_minutes_positive",
                violation_error_message="sla_minutes must be empty or at least 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class QueueActionType(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE)
    action_type = models.ForeignKey(ActionType, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "action_type"], name="uniq_queue_action_type")
        ]


class Source(models.Model):
    name = models.CharField(max_length=100, unique=True)
    queues = models.ManyToManyField(Queue, through="SourceQueue", related_name="sources")
    callback_url = models.URLField(max_length=2000, blank=True)
    signing_secret_env = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=config_schema.model_default("sources", "active"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class SourceQueue(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE)
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "queue"], name="uniq_source_queue")
        ]


class ApiKey(models.Model):
    """A source's key: `rq_<prefix>_<secret>`. Only the SHA-256 of the whole key is stored;
    the prefix finds the row, a constant-time comparison of the hash checks it."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.source.name}:{self.prefix}"


# A personal token lives this long unless its creator says otherwise (create_token --days).
TOKEN_DAYS_DEFAULT = 90
TOKEN_DAYS_MAX = 366


def token_expiry_default() -> datetime:
    """When a token created now expires by default (also what migration 0013 gave the
    tokens that existed before expiry did)."""
    return timezone.now() + timedelta(days=TOKEN_DAYS_DEFAULT)


class PersonalToken(models.Model):
    """A reviewer's API token (`Authorization: Token rqp_<prefix>_<secret>`), hashed like ApiKey.
    Usable until `expires_at`, or until revoked (by its owner, an admin, or a change of the
    owner's password or role: services/tokens.py)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(default=token_expiry_default)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user.get_username()}:{self.prefix}"

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(
        max_length=16,
        choices=[(r.value, r.value) for r in MemberRole],
        default=MemberRole(config_schema.default("members", "role")),
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "queue"], name="uniq_membership")]
