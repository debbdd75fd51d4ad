"""apply_config: idempotent upsert, all or nothing, precise errors."""

import io
import textwrap

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from reviewqueue.exceptions import ConfigError
from reviewqueue.models import ActionType, AuditEvent, Membership, Queue, Source
from reviewqueue.services.audit import Actor
from reviewqueue.services.setup import config_apply
from tests.factories import ActionTypeFactory, QueueFactory, UserFactory

GOOD = textwrap.dedent(
    """
    [[action_types]]
    name = "refund.issue"
    executor = "webhook"
    url = "http://127.0.0.1:9100/actions/refund"
    signing_secret_env = "REFUND_WEBHOOK_SECRET"
    payload_schema = { type = "object", required = ["order_id", "amount"], properties = { order_id = { type = "string" }, amount = { type = "number", minimum = 0 }, note = { type = "string" } } }
    cosmetic_fields = ["note"]

    [[queues]]
    slug = "refunds"
    name = "Refunds"
    stage = "approval"
    action_types = ["refund.issue"]
    reason_codes = ["wrong_amount", "policy_violation", "insufficient_evidence", "other"]
    sla_minutes = 60
    routing = { auto_max_risk = 0.3, auto_min_confidence = 0.95, escalate_min_risk = 0.7, qa_sample_rate = 0.05 }

    [[sources]]
    name = "refund-bot"
    queues = ["refunds"]
    callback_url = "http://127.0.0.1:9100/callbacks"
    signing_secret_env = "REFUND_BOT_CALLBACK_SECRET"

    [[members]]
    user = "alice"
    queues = ["refunds"]
    role = "senior"
    """
)

ACTOR = Actor.system("test")


@pytest.fixture
def alice(db, settings, monkeypatch):
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:9100"]  # the spec example: loopback
    monkeypatch.setenv("REFUND_WEBHOOK_SECRET", "the refund webhook's signing key")
    monkeypatch.setenv("REFUND_BOT_CALLBACK_SECRET", "the refund bot's signing key")
    return UserFactory(username="alice")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_apply(text=text, actor=ACTOR)
    return info.value.problems


def test_the_spec_example_applies(alice):
    result = config_apply(text=GOOD, actor=ACTOR)
    assert result.counts == {"action_types": 1, "queues": 1, "sources": 1, "members": 1}
    assert result.notes == []
    queue = Queue.objects.get(slug="refunds")
    assert queue.stage == "approval" and queue.sla_minutes == 60 and queue.escalate_min_risk == 0.7
    assert queue.reason_codes[0] == "wrong_amount"
    action = ActionType.objects.get(name="refund.issue")
    assert action.executor == "webhook" and action.cosmetic_fields == ["note"]
    source = Source.objects.get(name="refund-bot")
    assert list(source.queues.values_list("slug", flat=True)) == ["refunds"]
    assert Membership.objects.get(user=alice, queue=queue).role == "senior"
    assert AuditEvent.objects.filter(action="config.applied").count() == 1


def test_applying_twice_changes_nothing(alice):
    config_apply(text=GOOD, actor=ACTOR)
    before = (
        list(Queue.objects.values()),
        list(ActionType.objects.values("name", "payload_schema")),
        list(Source.objects.values("name", "callback_url")),
        list(Membership.objects.values()),
    )
    config_apply(text=GOOD, actor=ACTOR)
    after = (
        list(Queue.objects.values()),
        list(ActionType.objects.values("name", "payload_schema")),
        list(Source.objects.values("name", "callback_url")),
        list(Membership.objects.values()),
    )
    assert [{k: v for k, v in q.items() if k != "updated_at"} for q in before[0]] == [
        {k: v for k, v in q.items() if k != "updated_at"} for q in after[0]
    ]
    assert before[1:] == after[1:]


def test_an_update_changes_the_row_in_place(alice):
    config_apply(text=GOOD, actor=ACTOR)
    config_apply(text=GOOD.replace("sla_minutes = 60", "sla_minutes = 90"), actor=ACTOR)
    assert Queue.objects.get(slug="refunds").sla_minutes == 90
    assert Queue.objects.count() == 1


def test_config_never_moves_an_existing_queues_stage(alice):
    """Stages move in the app, audited with their evidence; re-applying a file (e.g. on
    every deploy) must not silently undo a promotion or a breaker's step back."""
    config_apply(text=GOOD, actor=ACTOR)
    result = config_apply(text=GOOD.replace('stage = "approval"', 'stage = "shadow"'), actor=ACTOR)
    assert Queue.objects.get(slug="refunds").stage == "approval"
    assert result.notes == [
        "queues.refunds.stage: kept at 'approval' (the file says 'shadow'); an existing "
        "queue changes stage in the app, where the move is audited with its readiness evidence."
    ]
    applied = AuditEvent.objects.filter(action="config.applied").order_by("id").last()
    assert applied.data["notes"] == result.notes


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('stage = "approval"', 'stage = "yolo"', "queues[0].stage: unknown stage 'yolo'"),
        (
            "minimum = 0 }",
            'minimum = "zero" }',
            "action_types[0].payload_schema: invalid JSON Schema",
        ),
        (
            'action_types = ["refund.issue"]',
            'action_types = ["refund.void"]',
            "queues[0].action_types: unknown action type 'refund.void'",
        ),
        (
            "auto_max_risk = 0.3",
            "auto_max_risk = 1.3",
            "queues[0].routing.auto_max_risk: must be a number from 0 to 1",
        ),
        (
            "qa_sample_rate = 0.05",
            "qa_sample_rate = -0.05",
            "queues[0].routing.qa_sample_rate: must be a number from 0 to 1",
        ),
        (
            'queues = ["refunds"]\ncallback',
            'queues = ["refundz"]\ncallback',
            "sources[0].queues: unknown queue 'refundz'",
        ),
        ('user = "alice"', 'user = "zed"', "members[0].user: no user 'zed'"),
        ('role = "senior"', 'role = "boss"', "members[0].role: unknown role 'boss'"),
        (
            'executor = "webhook"',
            'executor = "carrier-pigeon"',
            "action_types[0].executor: unknown executor",
        ),
        (
            'url = "http://127.0.0.1:9100/actions/refund"',
            'url = "ftp://x/y"',
            "action_types[0].url: must be an http",
        ),
        (
            "sla_minutes = 60",
            "sla_minutes = 0",
            "queues[0].sla_minutes: must be a positive integer",
        ),
        ('name = "Refunds"', 'name = "Refunds"\ncolour = "red"', "queues[0].colour: unknown key"),
        (
            'cosmetic_fields = ["note"]',
            'cosmetic_fields = ["notes"]',
            "'notes' is not a property of payload_schema",
        ),
        (
            "qa_sample_rate = 0.05 }",
            "qa_sample_rate = 0.05 }\nbreaker = { window = 0 }",
            "queues[0].breaker.window: must be a positive integer, got 0",
        ),
        (
            "qa_sample_rate = 0.05 }",
            "qa_sample_rate = 0.05 }\nbreaker = { max_failure_rate = 1.5 }",
            "queues[0].breaker.max_failure_rate: must be a number from 0 to 1",
        ),
        (
            "qa_sample_rate = 0.05 }",
            "qa_sample_rate = 0.05 }\nreadiness = { shadow_window = 0 }",
            "queues[0].readiness.shadow_window: must be a whole number",
        ),
        (
            "qa_sample_rate = 0.05 }",
            "qa_sample_rate = 0.05 }\nreadiness = { shadow_windw = 100 }",
            "queues[0].readiness.shadow_windw: unknown gate setting",
        ),
        (
            'signing_secret_env = "REFUND_WEBHOOK_SECRET"\n',
            "",
            "action_types[0].signing_secret_env: is required for the webhook executor",
        ),
        (
            'signing_secret_env = "REFUND_WEBHOOK_SECRET"',
            'signing_secret_env = ""',
            "action_types[0].signing_secret_env: signing_secret_env is empty",
        ),
        (
            'signing_secret_env = "REFUND_WEBHOOK_SECRET"',
            'signing_secret_env = "REFUND_WEBHOOK_SECRT"',
            "action_types[0].signing_secret_env: the environment variable REFUND_WEBHOOK_SECRT",
        ),
        (
            'signing_secret_env = "REFUND_WEBHOOK_SECRET"',
            'signing_secret_env = "DJANGO_SECRET_KEY"',
            "action_types[0].signing_secret_env: signing_secret_env DJANGO_SECRET_KEY is one of "
            "the application's own secrets",
        ),
        (
            'signing_secret_env = "REFUND_BOT_CALLBACK_SECRET"',
            'signing_secret_env = "NOPE_UNSET"',
            "sources[0].signing_secret_env: the environment variable NOPE_UNSET",
        ),
    ],
)
def test_each_config_error_is_named_precisely_and_nothing_changes(alice, old, new, expected):
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    assert any(expected in p for p in found), found
    assert (
        not Queue.objects.exists()
        and not ActionType.objects.exists()
        and not Source.objects.exists()
    )
    assert not AuditEvent.objects.exists()


def test_loopback_targets_are_refused_unless_allowlisted(alice, settings):
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = []
    found = problems(GOOD)
    assert any("action_types[0].url: not allowed as an outbound target" in p for p in found), found
    assert any("sources[0].callback_url: not allowed" in p for p in found), found
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.0/8:9100"]
    config_apply(text=GOOD, actor=ACTOR)


def test_duplicate_slugs_are_refused(alice):
    queue = GOOD[GOOD.index("[[queues]]") : GOOD.index("[[sources]]")]
    found = problems(GOOD + "\n" + queue)
    assert any("queues[1].slug: duplicate queue slug 'refunds'" in p for p in found), found


def test_toml_syntax_errors_give_the_line(alice):
    found = problems(GOOD.replace('name = "Refunds"', 'name = "Refunds'))
    assert len(found) == 1 and "TOML syntax error" in found[0] and "line" in found[0]


def test_every_problem_is_reported_at_once(alice):
    bad = GOOD.replace('stage = "approval"', 'stage = "x"').replace(
        "auto_max_risk = 0.3", "auto_max_risk = 2"
    )
    assert len(problems(bad)) == 2


def test_all_or_nothing_leaves_earlier_config_untouched(alice):
    config_apply(text=GOOD, actor=ACTOR)
    bad = GOOD.replace('stage = "approval"', 'stage = "shadow"').replace(
        'role = "senior"', 'role = "boss"'
    )
    problems(bad)
    assert Queue.objects.get(slug="refunds").stage == "approval"


def test_a_signing_key_equal_to_the_app_secret_is_refused(alice, settings, monkeypatch):
    monkeypatch.setenv("REFUND_WEBHOOK_SECRET", settings.SECRET_KEY)
    found = problems(GOOD)
    assert any(
        p.startswith("action_types[0].signing_secret_env: the environment variable REFUND_WEBHOOK")
        and "holds the same value as an application secret" in p
        for p in found
    ), found


def test_an_empty_signing_key_variable_is_refused(alice, monkeypatch):
    monkeypatch.setenv("REFUND_BOT_CALLBACK_SECRET", "")
    found = problems(GOOD)
    assert any(
        p.startswith("sources[0].signing_secret_env: the environment variable REFUND_BOT_CALLBACK")
        and "not set or empty" in p
        for p in found
    ), found


def test_config_applied_records_what_changed_per_object_before_and_after(alice):
    first = config_apply(text=GOOD, actor=ACTOR)
    assert first.changes["queue refunds"]["sla_minutes"] == {"before": None, "after": 60}
    assert first.changes["queue refunds"]["member alice"] == {"before": None, "after": "senior"}
    assert first.changes["source refund-bot"]["queues"] == {"before": [], "after": ["refunds"]}
    changed = GOOD.replace("sla_minutes = 60", "sla_minutes = 90").replace(
        "auto_max_risk = 0.3", "auto_max_risk = 0.25"
    )
    config_apply(text=changed, actor=ACTOR)
    event = AuditEvent.objects.filter(action="config.applied").latest("id")
    assert event.data["changes"] == {
        "queue refunds": {
            "sla_minutes": {"before": 60, "after": 90},
            "auto_max_risk": {"before": 0.3, "after": 0.25},
        }
    }
    config_apply(text=changed, actor=ACTOR)  # nothing changes: nothing recorded as changed
    assert AuditEvent.objects.filter(action="config.applied").latest("id").data["changes"] == {}


def test_config_records_removed_links(alice):
    config_apply(text=GOOD, actor=ACTOR)
    result = config_apply(
        text=GOOD.replace('queues = ["refunds"]\ncallback', "queues = []\ncallback"), actor=ACTOR
    )
    assert result.changes == {"source refund-bot": {"queues": {"before": ["refunds"], "after": []}}}


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("queue", "breaker_window", 0),
        ("queue", "lease_minutes", 0),
        ("queue", "sla_minutes", 0),
        ("queue", "auto_max_risk", 1.5),
        ("queue", "breaker_max_failure_rate", -0.1),
        ("queue", "breaker_max_qa_rejection_rate", 1.01),
        ("queue", "hard_risk_ceiling", 2.0),
        ("action_type", "max_attempts", 0),
        ("action_type", "timeout_seconds", 0.0),
    ],
)
def test_the_database_refuses_what_must_never_be_stored(db, model, field, value):
    """Whatever path writes (a shell, a future form, a raw update), these never land."""
    row = QueueFactory(slug="refunds") if model == "queue" else ActionTypeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(row).objects.filter(pk=row.pk).update(**{field: value})


def test_the_user_commands_record_a_role_change_before_and_after(alice, monkeypatch):
    config_apply(text=GOOD, actor=ACTOR)
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", "a long demo password")
    call_command("create_user", "alice", "--role", "admin", stdout=io.StringIO())
    event = AuditEvent.objects.latest("id")
    assert event.action == "user.updated"
    assert event.data["changes"]["role"] == {"before": "reviewer", "after": "admin"}
    assert event.data["changes"]["is_superuser"] == {"before": False, "after": True}
    assert event.data["changes"]["password"] == {"changed": True}
    assert "pbkdf2" not in str(event.data) and "md5" not in str(event.data)
