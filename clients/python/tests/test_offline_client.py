"""The client's own logic, without a server: retry policy, error mapping, callback
signatures, and that it imports without Django."""

import asyncio
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from reviewqueue_client import (
    Conflict,
    InvalidSignature,
    NotFound,
    RateLimited,
    ReviewQueueClient,
    ReviewQueueError,
    ServerError,
    SignatureExpired,
    SignatureMalformed,
    SignatureMismatch,
    TransportError,
    sign_callback,
    verify_callback,
)
from reviewqueue_client.errors import error_for_status

ROOT = Path(__file__).resolve().parents[1]


def run_async(coro):
    """asyncio.run in a fresh thread: in the server's suite, Playwright's sync API leaves an
    event loop running in the main thread, and asyncio.run refuses to nest in it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def scripted(*answers):
    """A transport that answers each request with the next of `answers` (a Response or an
    exception to raise), and records the requests."""
    sent: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), sent


def problem(status: int, **extra) -> httpx.Response:
    body = {"type": "urn:reviewqueue:problem:x", "title": "T", "status": status, "detail": "d"}
    return httpx.Response(
        status, json={**body, **extra}, headers={"Content-Type": "application/problem+json"}
    )


ITEM = {"id": "r1", "queue": "q", "external_id": "e", "status": "pending", "route": "review"}


def client(transport, **options) -> ReviewQueueClient:
    options.setdefault("backoff", 0.001)
    return ReviewQueueClient("http://rq.test", "rqk_test", transport=transport, **options)


class TestRetries:
    def test_connection_errors_are_retried_then_a_transport_error(self):
        transport, sent = scripted(*[httpx.ConnectError("refused")] * 4)
        with pytest.raises(TransportError) as caught:
            client(transport, max_retries=3).get("r1")
        assert len(sent) == 4 and caught.value.status is None
        assert isinstance(caught.value, ReviewQueueError)

    def test_5xx_then_success_returns_the_success(self):
        transport, sent = scripted(problem(503), problem(502), httpx.Response(200, json=ITEM))
        assert client(transport).get("r1").id == "r1" and len(sent) == 3

    def test_429_honours_retry_after(self):
        limited = httpx.Response(429, headers={"Retry-After": "0.2"}, json={"status": 429})
        transport, sent = scripted(limited, httpx.Response(201, json=ITEM))
        started = time.monotonic()
        rec = client(transport).submit_item({"external_id": "e"})
        assert rec.created and len(sent) == 2 and time.monotonic() - started >= 0.2

    def test_4xx_other_than_429_is_never_retried(self):
        transport, sent = scripted(problem(409, reason="lease_lost"))
        with pytest.raises(Conflict) as caught:
            client(transport).submit_item({"external_id": "e"})
        assert len(sent) == 1 and caught.value.reason == "lease_lost"

    def test_a_human_outcome_is_not_resent_once_it_may_have_arrived(self):
        transport, sent = scripted(httpx.ReadTimeout("slow"), problem(500))
        rq = client(transport)
        with pytest.raises(TransportError):
            rq.post_human_outcome("r1", "approve")
        with pytest.raises(ServerError):
            rq.post_human_outcome("r1", "approve")
        assert len(sent) == 2

    def test_a_human_outcome_is_resent_when_it_never_left(self):
        transport, sent = scripted(httpx.ConnectError("refused"), httpx.Response(200, json=ITEM))
        assert client(transport).post_human_outcome("r1", "reject", reason_code="x").id == "r1"
        assert json.loads(sent[1].content) == {"outcome": "reject", "reason_code": "x"}
        assert sent[1].url.path == "/api/v1/recommendations/r1/human-outcome"

    def test_requests_carry_the_bearer_key_and_quote_ids(self):
        transport, sent = scripted(httpx.Response(200, json=ITEM))
        client(transport).get("a/b")
        assert sent[0].headers["Authorization"] == "Bearer rqk_test"
        assert sent[0].url.raw_path == b"/api/v1/recommendations/a%2Fb"

    def test_a_non_json_error_page_still_maps_by_status(self):
        transport, _ = scripted(httpx.Response(502, text="<html>Bad gateway</html>"))
        with pytest.raises(ServerError) as caught:
            client(transport, max_retries=0).get("r1")
        assert caught.value.status == 502 and "Bad gateway" in caught.value.detail

    def test_async_client_retries_the_same_way(self):

        from reviewqueue_client import AsyncReviewQueueClient

        sent = []
        answers = [httpx.ConnectError("refused"), problem(503), httpx.Response(200, json=ITEM)]

        def handler(request):
            sent.append(request)
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        async def main():
            async with AsyncReviewQueueClient(
                "http://rq.test", "k", transport=httpx.MockTransport(handler), backoff=0.001
            ) as rq:
                return await rq.get("r1")

        assert run_async(main()).id == "r1" and len(sent) == 3


class TestErrors:
    @pytest.mark.parametrize(
        ("status", "name"),
        [
            (400, "ValidationError"),
            (401, "AuthenticationError"),
            (403, "PermissionDenied"),
            (404, "NotFound"),
            (409, "Conflict"),
            (413, "PayloadTooLarge"),
            (415, "UnsupportedMediaType"),
            (429, "RateLimited"),
            (500, "ServerError"),
            (503, "ServerError"),
            (405, "ReviewQueueError"),
        ],
    )
    def test_each_status_has_its_type(self, status, name):
        error = error_for_status(status, {"status": status, "title": "t", "detail": "d"})
        assert type(error).__name__ == name and error.status == status
        assert isinstance(error, ReviewQueueError) and error.detail == "d"

    def test_errors_carry_the_problem(self):
        error = error_for_status(
            400,
            {
                "type": "urn:reviewqueue:problem:validation_error",
                "title": "Validation failed",
                "status": 400,
                "detail": "The request is not valid.",
                "errors": {"confidence": "Must be at most 1."},
            },
        )
        assert error.type == "urn:reviewqueue:problem:validation_error"
        assert error.title == "Validation failed" and error.errors == {
            "confidence": "Must be at most 1."
        }
        assert (
            str(error)
            == "400 Validation failed: The request is not valid. confidence: Must be at most 1."
        )

    def test_rate_limited_keeps_retry_after(self):
        error = error_for_status(429, {}, retry_after=7.0)
        assert isinstance(error, RateLimited) and error.retry_after == 7.0
        assert isinstance(error_for_status(404, {}), NotFound)


EVENT = {
    "id": "0190a000-0000-7000-8000-00000000e1e1",
    "type": "decision.made",
    "created_at": "2026-11-20T10:00:00Z",
    "data": {
        "recommendation_id": "r1",
        "external_id": "e1",
        "queue": "refunds",
        "status": "decided",
        "decision": {"kind": "human", "outcome": "reject", "reason_code": "other", "comment": "no"},
        "execution": None,
    },
}


class TestVerifyCallback:
    body = json.dumps(EVENT, separators=(",", ":"), sort_keys=True).encode()

    def test_a_signed_body_verifies_and_parses(self):
        event = verify_callback(self.body, sign_callback(self.body, "s3cret"), "s3cret")
        assert event.id == EVENT["id"] and event.type == "decision.made"
        assert event.recommendation_id == "r1" and event.external_id == "e1"
        assert event.decision is not None and event.decision.outcome == "reject"

    @pytest.mark.parametrize(
        ("mangle", "error", "why"),
        [
            (lambda b, h: (b + b" ", h), SignatureMismatch, "does not match"),
            (lambda b, h: (b, h.replace("v1=", "v1=0")), SignatureMismatch, "does not match"),
            (lambda b, h: (b, None), SignatureMalformed, "Missing"),
            (lambda b, h: (b, ""), SignatureMalformed, "Missing"),
            (lambda b, h: (b, "garbage"), SignatureMalformed, "Malformed"),
            (lambda b, h: (b, "t=abc,v1=00"), SignatureMalformed, "Malformed"),
            (lambda b, h: (b, h.split(",")[1]), SignatureMalformed, "Malformed"),
        ],
    )
    def test_tampered_or_malformed_signatures_are_refused(self, mangle, error, why):
        body, header = mangle(self.body, sign_callback(self.body, "s3cret"))
        with pytest.raises(error, match=why) as caught:
            verify_callback(body, header, "s3cret")
        assert isinstance(caught.value, InvalidSignature)

    def test_wrong_secret_is_refused(self):
        with pytest.raises(SignatureMismatch):
            verify_callback(self.body, sign_callback(self.body, "other"), "s3cret")

    def test_old_signatures_are_refused_as_replays(self):
        old = sign_callback(self.body, "s3cret", timestamp=int(time.time()) - 301)
        with pytest.raises(SignatureExpired, match="tolerance"):
            verify_callback(self.body, old, "s3cret")
        assert verify_callback(self.body, old, "s3cret", tolerance=600).id == EVENT["id"]

    def test_any_of_several_v1_values_may_match_during_a_secret_rotation(self):
        t = int(time.time())
        new = sign_callback(self.body, "new", timestamp=t).split("v1=")[1]
        header = f"{sign_callback(self.body, 'old', timestamp=t)},v1={new}"
        assert verify_callback(self.body, header, "new").id == EVENT["id"]
        assert verify_callback(self.body, header, "old").id == EVENT["id"]


def test_the_client_and_both_adapters_import_without_django():
    code = (
        "import sys, reviewqueue_client, reviewqueue_client.langgraph\n"
        "import reviewqueue_client.openai_agents\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'rest_framework')))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
