"""The client against the live app: pytest-django's live server on the test database.

Tests that use these fixtures need `pytest.mark.django_db(transaction=True)`: the server
thread must see the rows the test writes.
"""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from reviewqueue_client import ReviewQueueClient

from reviewqueue.models import ActionType, QueueActionType
from reviewqueue.services.audit import Actor
from reviewqueue.services.tokens import personal_token_create
from tests.conftest import People, World
from tests.factories import ActionTypeFactory

# Agent tool calls are posted as these action types: the agent runs the tool itself after
# the resume, so Review Queue must not execute anything (noop), and any args are accepted.
TOOL_ACTION_TYPES = ("tool.issue_refund", "tool.send_email")


@dataclass
class Live:
    url: str
    world: World
    clients: list[ReviewQueueClient] = field(default_factory=list)

    def client(self, key: str | None = None, **options: Any) -> ReviewQueueClient:
        """A client for the live app (closed when the test ends)."""
        options.setdefault("max_retries", 2)
        options.setdefault("backoff", 0.01)
        client = ReviewQueueClient(self.url, api_key=key or self.world.key, **options)
        self.clients.append(client)
        return client


@pytest.fixture
def live(live_server, world) -> Iterator[Live]:
    for name in TOOL_ACTION_TYPES:
        action_type = ActionTypeFactory(
            name=name, executor="noop", payload_schema={"type": "object"}, cosmetic_fields=[]
        )
        QueueActionType.objects.get_or_create(queue=world.queue, action_type=action_type)
    assert ActionType.objects.filter(name__in=TOOL_ACTION_TYPES).count() == 2
    live = Live(url=live_server.url, world=world)
    yield live
    for client in live.clients:
        client.close()


@pytest.fixture
def rq(live) -> Iterator[ReviewQueueClient]:
    with live.client() as client:
        yield client


class Reviewer:
    """A person reviewing over the HTTP review API with a personal token."""

    def __init__(self, base_url: str, token: str):
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=10
        )

    def claim(self, queue: str = "refunds") -> dict[str, Any] | None:
        response = self.http.post(f"/api/v1/queues/{queue}/claim")
        assert response.status_code in (200, 204), response.text
        return response.json() if response.status_code == 200 else None

    def wait_and_claim(self, queue: str = "refunds", timeout: float = 15.0) -> dict[str, Any]:
        """The next item, waiting for the agent to post one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.claim(queue)
            if item is not None:
                return item
            time.sleep(0.05)
        raise AssertionError(f"nothing arrived in {queue} within {timeout} s")

    def decide(self, rec_id: str, outcome: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(
            f"/api/v1/recommendations/{rec_id}/decision", json={"outcome": outcome, **body}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def reviewer(live, people: People) -> Iterator[Reviewer]:
    """The reviewer persona (rita) on the API with a personal token."""
    _, token = personal_token_create(user=people.reviewer, actor=Actor.system("test"))
    person = Reviewer(live.url, token)
    yield person
    person.close()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class CallbackReceiver:
    """A source's callback endpoint on 127.0.0.1: records raw bodies and headers."""

    url: str
    received: list[Received] = field(default_factory=list)

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} callbacks received"
        return self.received


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            receiver.received.append(Received(self.rfile.read(length), dict(self.headers)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/callbacks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


def event_body(received: Received) -> dict[str, Any]:
    return json.loads(received.body)


def run_async(coro):
    """asyncio.run in a fresh thread: Playwright's sync API leaves an event loop running in
    the main thread for the rest of the session, and asyncio.run refuses to nest in it."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
