"""The Django admin: another client of the services. Configuration changes are validated by
apply_config's own rules and recorded as one audit event with every changed field before and
after; recommendations and the audit trail are read-only; new API keys are shown once."""

import io
import json

import pytest
from django import forms
from django.core.management import call_command

from reviewqueue.models import ActionType, ApiKey, AuditEvent, Membership, Queue, Source, User
from tests.api.test_ingest import post
from tests.conftest import TEST_PASSWORD, item, make_admin
from tests.factories import ActionTypeFactory, UserFactory, member

SECRET_ENV = "ADMIN_TEST_WEBHOOK_SECRET"


def admin_client(client):
    client.force_login(make_admin())
    return client


def _posted(field: forms.Field, value) -> str | None:
    if isinstance(field, forms.BooleanField):
        return "on" if value else None
    return "" if value is None else str(value)  # BoundField.value() is already prepared


def change_form_data(client, url: str) -> dict[str, str]:
    """What the change page at `url` would post back unchanged: the form and its inlines."""
    response = client.get(url)
    assert response.status_code == 200
    data: dict[str, str] = {}
    forms_ = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = str(
                formset.management_form[name].value()
            )
        forms_ += formset.forms
    for form in forms_:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = _posted(field, form[name].value())
            if value is not None:
                data[form.add_prefix(name)] = value
    return data


def save(client, page: str, **changes) -> tuple[int, dict[str, list[str]]]:
    """Post the change page with `changes`; (status, the main form's errors)."""
    data = {**change_form_data(client, page), **{k: str(v) for k, v in changes.items()}}
    response = client.post(page, data)
    errors = response.context["adminform"].form.errors if response.status_code == 200 else {}
    return response.status_code, {k: list(v) for k, v in errors.items()}


def queue_url(queue: Queue) -> str:
    return f"/admin/reviewqueue/queue/{queue.pk}/change/"


@pytest.fixture
def webhook_ok(settings, monkeypatch):
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:9100"]
    monkeypatch.setenv(SECRET_ENV, "a signing key for the admin tests")


def test_admin_lists_recommendations_read_only(client, world):
    rec_id = post(world.client(), item()).json()["id"]
    admin_client(client)
    listing = client.get("/admin/reviewqueue/recommendation/")
    assert listing.status_code == 200 and b"ticket-8812:refund" in listing.content
    detail = client.get(f"/admin/reviewqueue/recommendation/{rec_id}/change/")
    assert detail.status_code == 200 and b"Save" not in detail.content
    assert client.get("/admin/reviewqueue/recommendation/add/").status_code == 403


def test_admin_is_closed_to_reviewers(client, world):
    client.force_login(UserFactory(username="bob"))
    response = client.get("/admin/reviewqueue/recommendation/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_retries_a_dead_execution_and_resumes_a_breaker(client, world):
    from django.utils import timezone

    from reviewqueue.models import Execution

    world.queue.stage = "supervised"
    world.queue.breaker_tripped_at = timezone.now()
    world.queue.breaker_reason = "too many failures"
    world.queue.save()
    admin_client(client)
    client.post(
        "/admin/reviewqueue/queue/",
        {"action": "resume_breaker", "_selected_action": [world.queue.pk]},
    )
    assert Queue.objects.get(pk=world.queue.pk).breaker_tripped_at is None
    assert AuditEvent.objects.filter(action="breaker.resumed", actor_label="ada").exists()
    Queue.objects.filter(pk=world.queue.pk).update(stage="supervised")
    rec_id = post(world.client(), item(risk_score=0.1, confidence=0.99)).json()["id"]
    execution = Execution.objects.get(recommendation_id=rec_id)
    Execution.objects.filter(pk=execution.pk).update(
        status="dead", attempts=1, last_error="HTTP 400"
    )
    client.post(
        "/admin/reviewqueue/execution/", {"action": "retry", "_selected_action": [execution.pk]}
    )
    execution.refresh_from_db()
    assert execution.status == "pending" and execution.max_attempts > 8
    assert AuditEvent.objects.filter(action="execution.retry_requested", actor_label="ada").exists()


# --- Finding 15: a new API key is shown once, on its own page -----------------------------------


def test_admin_shows_a_new_key_once_on_a_page_never_in_the_messages_cookie(client, world):
    admin_client(client)
    before = ApiKey.objects.filter(source=world.source).count()
    response = client.post(
        "/admin/reviewqueue/source/",
        {"action": "create_key", "_selected_action": [world.source.pk]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert ApiKey.objects.filter(source=world.source).count() == before + 1
    text = response.content.decode()
    plain = text.split('data-api-key="refund-bot">')[1].split("<")[0]
    assert plain.startswith("rq_")
    assert plain not in str(response.cookies.get("messages", ""))  # the old leak
    assert plain not in client.get("/admin/reviewqueue/source/").content.decode()
    assert post(world.client(key=plain), item()).status_code == 201
    assert AuditEvent.objects.filter(action="api_key.created", actor_label="ada").exists()


# --- Finding 1: every admin change is on the record, with before and after ----------------------


def test_a_queue_edit_in_the_admin_is_one_audit_event_with_before_and_after(client, world):
    bob = UserFactory(username="bob")
    admin_client(client)
    url = queue_url(world.queue)
    data = change_form_data(client, url)
    data.update(
        {
            "auto_max_risk": "0.5",
            "breaker_window": "20",
            "readiness": json.dumps({"shadow_window": 100}),
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-user": str(bob.pk),
            "memberships-0-role": "senior",
            "memberships-0-queue": str(world.queue.pk),
        }
    )
    before = AuditEvent.objects.count()
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.action == "queue.changed" and event.actor_label == "ada"
    assert event.queue_id == world.queue.pk  # in the queue's own chain
    assert event.data == {
        "object": "queue",
        "name": "refunds",
        "changes": {
            "auto_max_risk": {"before": 0.3, "after": 0.5},
            "breaker_window": {"before": 50, "after": 20},
            "readiness": {"before": {}, "after": {"shadow_window": 100}},
            "member bob": {"before": None, "after": "senior"},
        },
    }
    queue = Queue.objects.get(pk=world.queue.pk)
    assert (queue.auto_max_risk, queue.breaker_window) == (0.5, 20)
    assert Membership.objects.get(user=bob, queue=queue).role == "senior"
    # The event's page shows the values.
    page = client.get(f"/admin/reviewqueue/auditevent/{event.pk}/change/").content.decode()
    assert 'data-change="auto_max_risk"' in page and "0.3" in page and "0.5" in page


def test_saving_an_unchanged_queue_records_nothing(client, world):
    admin_client(client)
    before = AuditEvent.objects.count()
    status, _ = save(client, queue_url(world.queue))
    assert status == 302 and AuditEvent.objects.count() == before


def test_removing_a_member_in_the_admin_is_recorded(client, world):
    bob = UserFactory(username="bob")
    member(bob, world.queue)
    admin_client(client)
    data = change_form_data(client, queue_url(world.queue))
    data["memberships-0-DELETE"] = "on"
    assert client.post(queue_url(world.queue), data).status_code == 302
    assert not Membership.objects.filter(user=bob).exists()
    event = AuditEvent.objects.latest("id")
    assert event.action == "queue.changed"
    assert event.data["changes"] == {"member bob": {"before": "reviewer", "after": None}}


def test_an_action_type_edit_in_the_admin_is_audited(client, world, webhook_ok):
    admin_client(client)
    url = f"/admin/reviewqueue/actiontype/{world.action_type.pk}/change/"
    status, errors = save(
        client,
        url,
        executor="webhook",
        url="http://127.0.0.1:9100/refund",
        signing_secret_env=SECRET_ENV,
        max_attempts=3,
    )
    assert status == 302, errors
    event = AuditEvent.objects.latest("id")
    assert event.action == "action_type.changed" and event.queue_id is None
    assert event.data["changes"] == {
        "executor": {"before": "noop", "after": "webhook"},
        "url": {"before": "", "after": "http://127.0.0.1:9100/refund"},
        "signing_secret_env": {"before": "", "after": SECRET_ENV},
        "max_attempts": {"before": 8, "after": 3},
    }


def test_a_source_edit_in_the_admin_is_audited(client, world, webhook_ok):
    admin_client(client)
    status, errors = save(
        client,
        f"/admin/reviewqueue/source/{world.source.pk}/change/",
        callback_url="http://127.0.0.1:9100/callbacks",
        signing_secret_env=SECRET_ENV,
    )
    assert status == 302, errors
    event = AuditEvent.objects.latest("id")
    assert event.action == "source.changed"
    assert event.data["changes"]["callback_url"] == {
        "before": "",
        "after": "http://127.0.0.1:9100/callbacks",
    }
    assert Source.objects.get(pk=world.source.pk).callback_url.endswith("/callbacks")


def test_a_role_change_in_the_admin_is_audited_and_an_auditor_leaves_every_queue(client, world):
    bob = UserFactory(username="bob")
    member(bob, world.queue)
    admin_client(client)
    status, errors = save(client, f"/admin/reviewqueue/user/{bob.pk}/change/", role="auditor")
    assert status == 302, errors
    event = AuditEvent.objects.latest("id")
    assert event.action == "user.changed" and event.actor_label == "ada"
    assert event.data["changes"] == {
        "role": {"before": "reviewer", "after": "auditor"},
        "member of refunds": {"before": "reviewer", "after": None},
    }
    assert not Membership.objects.filter(user=bob).exists()


def test_a_role_change_to_admin_gives_the_admin_and_says_so(client, world):
    bob = UserFactory(username="bob")
    admin_client(client)
    status, errors = save(client, f"/admin/reviewqueue/user/{bob.pk}/change/", role="admin")
    assert status == 302, errors
    changes = AuditEvent.objects.latest("id").data["changes"]
    assert changes["role"] == {"before": "reviewer", "after": "admin"}
    assert changes["is_staff"] == {"before": False, "after": True}
    assert User.objects.get(pk=bob.pk).is_superuser


def test_a_person_added_in_the_admin_is_audited_without_the_password(client, world):
    admin_client(client)
    response = client.post(
        "/admin/reviewqueue/user/add/",
        {
            "username": "carol",
            "role": "senior",
            "password1": "a long admin-set password",
            "password2": "a long admin-set password",
        },
    )
    assert response.status_code == 302
    carol = User.objects.get(username="carol")
    assert carol.role == "senior" and carol.check_password("a long admin-set password")
    event = AuditEvent.objects.latest("id")
    assert event.action == "user.created"
    assert event.data["changes"]["password"] == {"changed": True}
    assert carol.password not in json.dumps(event.data)


def test_a_password_set_in_the_admin_is_recorded_as_changed(client, world):
    bob = UserFactory(username="bob")
    admin_client(client)
    response = client.post(
        f"/admin/reviewqueue/user/{bob.pk}/password/",
        {"password1": "another long password", "password2": "another long password"},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.latest("id")
    assert event.action == "user.changed" and event.data["name"] == "bob"
    assert event.data["changes"] == {"password": {"changed": True, "usable": True}}
    assert User.objects.get(pk=bob.pk).check_password("another long password")


def test_a_deletion_in_the_admin_is_audited_with_the_last_values(client, world):
    spare = ActionTypeFactory(name="spare.type")
    admin_client(client)
    response = client.post(f"/admin/reviewqueue/actiontype/{spare.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ActionType.objects.filter(name="spare.type").exists()
    event = AuditEvent.objects.latest("id")
    assert event.action == "action_type.deleted" and event.data["name"] == "spare.type"
    assert event.data["changes"]["max_attempts"] == {"before": 8, "after": None}


# --- Finding 2: the admin refuses what apply_config refuses --------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("auto_max_risk", "1.3", "must be a number from 0 to 1, got 1.3"),
        ("breaker_max_failure_rate", "2", "must be a number from 0 to 1, got 2.0"),
        ("breaker_window", "0", "must be a positive integer, got 0"),
        ("lease_minutes", "0", "must be a positive integer, got 0"),
        ("hard_risk_ceiling", "-0.1", "must be a number from 0 to 1, got -0.1"),
        ("readiness", '{"shadow_window": 0}', "must be a whole number"),
        ("readiness", '{"yolo": 1}', "unknown gate setting"),
        ("reason_codes", '"other"', "must be a list of reason codes"),
        ("reason_codes", '[{"label": "Other"}]', "is required"),
        ("reason_codes", '["other", {"code": "other"}]', "'other' is listed twice"),
        ("guidelines", "x" * 65_537, "is too long: 65537 characters of Markdown"),
        ("reviewers_per_item", "4", "must be a whole number from 1 to 3, got 4"),
        ("reviewers_per_item", "0", "must be a whole number from 1 to 3, got 0"),
    ],
)
def test_the_admin_refuses_a_queue_value_apply_config_refuses(client, world, field, value, message):
    admin_client(client)
    before = (list(Queue.objects.values()), AuditEvent.objects.count())
    status, errors = save(client, queue_url(world.queue), **{field: value})
    assert status == 200
    assert any(message in e for e in errors.get(field, [])), errors
    assert (list(Queue.objects.values()), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"payload_schema": '{"type": "object", "properties": {"a": {"minimum": "zero"}}}'},
            "payload_schema",
            "invalid JSON Schema",
        ),
        (
            {"executor": "webhook", "url": "http://10.1.2.3/x", "signing_secret_env": SECRET_ENV},
            "url",
            "not allowed as an outbound target",
        ),
        (
            {"executor": "webhook", "url": "http://127.0.0.1:9100/x"},
            "signing_secret_env",
            "is required",
        ),
        (
            {
                "executor": "webhook",
                "url": "http://127.0.0.1:9100/x",
                "signing_secret_env": "NOT_SET_X",
            },
            "signing_secret_env",
            "the environment variable NOT_SET_X",
        ),
        (
            {
                "executor": "webhook",
                "url": "http://127.0.0.1:9100/x",
                "signing_secret_env": "DJANGO_SECRET_KEY",
            },
            "signing_secret_env",
            "the application's own secrets",
        ),
        ({"executor": "carrier-pigeon"}, "executor", "unknown executor"),
        ({"cosmetic_fields": '["nope"]'}, "cosmetic_fields", "not a property of payload_schema"),
        ({"timeout_seconds": "0"}, "timeout_seconds", "from 0 to 300"),
    ],
)
def test_the_admin_refuses_an_action_type_apply_config_refuses(
    client, world, webhook_ok, changes, field, message
):
    admin_client(client)
    before = (list(ActionType.objects.values()), AuditEvent.objects.count())
    url = f"/admin/reviewqueue/actiontype/{world.action_type.pk}/change/"
    status, errors = save(client, url, **changes)
    assert status == 200
    assert any(message in e for e in errors.get(field, [])), errors
    assert (list(ActionType.objects.values()), AuditEvent.objects.count()) == before


def test_the_admin_refuses_a_signing_key_equal_to_the_app_secret(
    client, world, webhook_ok, settings, monkeypatch
):
    monkeypatch.setenv("COPIED_KEY", settings.SECRET_KEY)
    admin_client(client)
    status, errors = save(
        client,
        f"/admin/reviewqueue/source/{world.source.pk}/change/",
        callback_url="http://127.0.0.1:9100/callbacks",
        signing_secret_env="COPIED_KEY",
    )
    assert status == 200
    assert any("same value as an application secret" in e for e in errors["signing_secret_env"])


def test_the_admin_refuses_a_callback_outside_the_allowlist(client, world, settings, monkeypatch):
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = []
    monkeypatch.setenv(SECRET_ENV, "a signing key for the admin tests")
    admin_client(client)
    status, errors = save(
        client,
        f"/admin/reviewqueue/source/{world.source.pk}/change/",
        callback_url="http://127.0.0.1:9100/callbacks",
        signing_secret_env=SECRET_ENV,
    )
    assert status == 200
    assert any("not allowed as an outbound target" in e for e in errors["callback_url"]), errors
    assert Source.objects.get(pk=world.source.pk).callback_url == ""


def test_a_new_queue_from_the_admin_is_judged_and_recorded(client, world):
    admin_client(client)
    data = change_form_data(client, "/admin/reviewqueue/queue/add/")
    data.update({"slug": "disputes", "name": "Disputes", "reason_codes": '["other"]'})
    data["breaker_window"] = "0"
    response = client.post("/admin/reviewqueue/queue/add/", data)
    assert response.status_code == 200 and not Queue.objects.filter(slug="disputes").exists()
    data["breaker_window"] = "10"
    response = client.post("/admin/reviewqueue/queue/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.latest("id")
    assert event.action == "queue.created" and event.data["name"] == "disputes"
    assert event.data["changes"]["breaker_window"] == {"before": None, "after": 10}


# --- Every kind of change leaves a verifiable trail ----------------------------------------------


def test_verify_audit_passes_after_every_kind_of_change(client, world, webhook_ok, monkeypatch):
    from tests.services.test_setup import GOOD

    monkeypatch.setenv("REFUND_WEBHOOK_SECRET", "refund webhook key")
    monkeypatch.setenv("REFUND_BOT_CALLBACK_SECRET", "refund bot key")
    monkeypatch.setenv("REVIEWQUEUE_PASSWORD", TEST_PASSWORD)
    call_command("create_user", "alice", "--role", "reviewer", stdout=io.StringIO())
    config_file = io.StringIO(GOOD)
    from reviewqueue.services.audit import Actor
    from reviewqueue.services.setup import config_apply

    config_apply(text=config_file.getvalue(), actor=Actor.system("test"))
    config_apply(text=GOOD.replace("sla_minutes = 60", "sla_minutes = 90"), actor=Actor.system("t"))
    call_command("create_user", "alice", "--role", "senior", stdout=io.StringIO())
    admin_client(client)
    bob = UserFactory(username="bob")
    refunds = Queue.objects.get(slug="refunds")
    assert save(client, queue_url(refunds), auto_max_risk="0.4")[0] == 302
    assert (
        save(
            client, f"/admin/reviewqueue/actiontype/{world.action_type.pk}/change/", max_attempts=4
        )[0]
        == 302
    )
    assert (
        save(client, f"/admin/reviewqueue/source/{world.source.pk}/change/", is_active="")[0] == 302
    )
    assert save(client, f"/admin/reviewqueue/user/{bob.pk}/change/", role="senior")[0] == 302
    client.post(
        f"/admin/reviewqueue/user/{bob.pk}/password/",
        {"password1": "another long password", "password2": "another long password"},
    )
    spare = ActionTypeFactory(name="spare.type")
    client.post(f"/admin/reviewqueue/actiontype/{spare.pk}/delete/", {"post": "yes"})
    client.post(
        "/admin/reviewqueue/source/",
        {"action": "create_key", "_selected_action": [world.source.pk]},
    )
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "config.applied",
        "user.created",
        "user.updated",
        "user.changed",
        "queue.changed",
        "action_type.changed",
        "source.changed",
        "action_type.deleted",
        "api_key.created",
    } <= actions, actions
    out = io.StringIO()
    call_command("verify_audit", stdout=out)  # raises (exit non-zero) on any gap or tampering


def test_emptied_json_boxes_mean_the_defaults_not_a_server_error(client, world):
    Queue.objects.filter(pk=world.queue.pk).update(
        readiness={"shadow_window": 100}, anomaly={"fields": ["amount"]}
    )
    admin_client(client)
    url = queue_url(world.queue)
    data = change_form_data(client, url)
    data.update({"readiness": "", "anomaly": ""})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    queue = Queue.objects.get(pk=world.queue.pk)
    assert (queue.readiness, queue.anomaly) == ({}, {})
