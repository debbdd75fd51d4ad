"""The queue keys of notifications (issue 18 #4): `sla_warning_minutes` and `chat`, through
apply_config and the admin alike."""

import pytest

from reviewqueue.models import AuditEvent, Queue
from reviewqueue.services import config_check
from reviewqueue.services.audit import Actor
from reviewqueue.services.setup import config_apply
from tests.services.test_config_check import QUEUE
from tests.services.test_setup import GOOD, alice  # noqa: F401 (a fixture)
from tests.web.test_admin import admin_client, queue_url, save

ACTOR = Actor.system("test")


@pytest.mark.usefixtures("alice")  # the spec example's allowlist, secrets and user
def test_a_file_sets_the_sla_warning_and_turns_chat_off():
    config_apply(
        text=GOOD.replace(
            "sla_minutes = 60", "sla_minutes = 60\nsla_warning_minutes = 15\nchat = false"
        ),
        actor=ACTOR,
    )
    queue = Queue.objects.get(slug="refunds")
    assert (queue.sla_warning_minutes, queue.chat) == (15, False)


@pytest.mark.usefixtures("alice")
def test_the_defaults_are_no_warning_and_chat_on():
    config_apply(text=GOOD, actor=ACTOR)
    queue = Queue.objects.get(slug="refunds")
    assert (queue.sla_warning_minutes, queue.chat) == (None, True)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sla_warning_minutes", -1, "must be a whole number of minutes, 0 or more, got -1"),
        ("sla_warning_minutes", 1.5, "must be a whole number of minutes, 0 or more, got 1.5"),
        ("chat", "no", "must be true or false, got 'no'"),
    ],
)
def test_bad_values_are_refused_with_their_key(key, value, message):
    found = config_check.queue_problems({**QUEUE, key: value}, action_schemas={"refund.issue": {}})
    assert found == [(key, message)]


def test_the_admin_saves_them_audited(client, world):
    admin_client(client)
    status, errors = save(client, queue_url(world.queue), sla_warning_minutes=10)
    assert status == 302, errors
    assert Queue.objects.get(pk=world.queue.pk).sla_warning_minutes == 10
    event = AuditEvent.objects.latest("id")
    assert event.data["changes"]["sla_warning_minutes"] == {"before": None, "after": 10}


def test_a_warning_without_an_sla_is_refused():
    found = config_check.queue_problems(
        {**QUEUE, "sla_warning_minutes": 10}, action_schemas={"refund.issue": {}}
    )
    assert found == [
        (
            "sla_warning_minutes",
            "needs sla_minutes: without an SLA there is no due time to warn before",
        )
    ]
    ok = {**QUEUE, "sla_warning_minutes": 0}
    assert config_check.queue_problems(ok, action_schemas={"refund.issue": {}}) == []
