from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from reviewqueue.models import ActionType, Queue, RateLimitWindow, Source, User
from reviewqueue.selectors.targets import targets_forget
from tests.factories import TEST_PASSWORD as TEST_PASSWORD  # tests import it from here
from tests.factories import (
    ActionTypeFactory,
    QueueFactory,
    SourceFactory,
    UserFactory,
    make_key,
    member,
)


def pytest_configure(config):
    from django.conf import settings

    # PBKDF2 costs ~0.3 s per password; tests create many users. Not a production setting.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request):
    """Fresh rate-limit counters and per-process memos for every test. The counters are rows
    in the test database: a test inside a transaction starts without any (the last one's were
    rolled back), but a transactional test (transaction=True, live_server, the real worker)
    commits them, so it clears them first rather than trust the last one's flush."""
    cache.clear()  # per process (LocMemCache): the metrics memos
    targets_forget()  # tests change queues through the ORM and expect it to apply at once
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(
        marker and (marker.kwargs.get("transaction") or marker.args[:1] == (True,))
    )
    if transactional or {"transactional_db", "live_server"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
        RateLimitWindow.objects.all().delete()
    yield


@dataclass
class World:
    action_type: ActionType
    queue: Queue  # "refunds", approval stage
    source: Source  # "refund-bot", may post to refunds
    key: str
    other_queue: Queue  # "other": refund-bot may not post here
    other_source: Source  # "other-bot", may post to other only
    other_key: str

    def client(self, key: str | None = None) -> APIClient:
        client = APIClient()
        if key is not False:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key or self.key}")
        return client


@pytest.fixture
def world(db) -> World:
    action_type = ActionTypeFactory()
    queue = QueueFactory(slug="refunds", action_types=[action_type])
    other_queue = QueueFactory(slug="other", action_types=[action_type])
    source = SourceFactory(name="refund-bot", queues=[queue])
    other_source = SourceFactory(name="other-bot", queues=[other_queue])
    return World(
        action_type=action_type,
        queue=queue,
        source=source,
        key=make_key(source),
        other_queue=other_queue,
        other_source=other_source,
        other_key=make_key(other_source),
    )


@dataclass(frozen=True)
class People:
    """The personas every test shares (docs/style.md). Each signs in as its username with
    TEST_PASSWORD. A test that needs someone else (a second reviewer for a race, a user without
    any role) makes them from tests.factories."""

    reviewer: User  # rita: reviews the queue
    senior: User  # sam: senior reviewer of the queue (escalations, undo)
    outsider: User  # otto: nothing of this queue (reviews the other one, if there is one)
    auditor: User  # audrey: reads every queue, reviews none; no membership
    admin: User  # ada: administers everything, the Django admin too (as `setup` makes admins)


def make_people(queue: Queue, other_queue: Queue | None = None) -> People:
    """The personas on `queue`; the outsider reviews `other_queue` (if given) and nothing else."""
    reviewer = UserFactory(username="rita")
    senior = UserFactory(username="sam", role="senior")
    outsider = UserFactory(username="otto")
    member(reviewer, queue)
    member(senior, queue, role="senior")
    if other_queue is not None:
        member(outsider, other_queue)
    return People(
        reviewer=reviewer,
        senior=senior,
        outsider=outsider,
        auditor=UserFactory(username="audrey", role="auditor"),
        admin=make_admin(),
    )


def make_admin() -> User:
    """The admin persona alone, for tests of the Django admin's membership forms, where the
    others' memberships would show up."""
    return UserFactory(username="ada", role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def people(world: World) -> People:
    """The personas on `refunds`; the outsider reviews `other`."""
    return make_people(world.queue, world.other_queue)


@pytest.fixture
def rob(world: World, people: People) -> User:
    """A second reviewer of `refunds` (consensus: two reviewers vote on one item)."""
    user = UserFactory(username="rob")
    member(user, world.queue)
    return user


def item(**overrides: Any) -> dict[str, Any]:
    """A valid recommendation body for the `refunds` queue."""
    body: dict[str, Any] = {
        "queue": "refunds",
        "external_id": "ticket-8812:refund",
        "action": {"type": "refund.issue", "payload": {"order_id": "A-1", "amount": 40.0}},
        "confidence": 0.91,
        "risk_score": 0.42,
        "rationale": "Customer was charged twice for order A-1.",
        "evidence": [
            {"title": "Order A-1", "url": "https://crm.example/orders/A-1", "snippet": "..."}
        ],
        "model": {"name": "refund-agent", "version": "2026-10-01"},
        "prompt_version": "refund-v7",
        "priority": 0,
        "expires_at": "2036-11-23T12:00:00Z",
        "metadata": {"customer_tier": "gold"},
    }
    body.update(overrides)
    return body
