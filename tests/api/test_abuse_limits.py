"""Abuse limits across the API, each a problem+json answer naming what is wrong: array
lengths, free-text lengths, body size, nesting depth, NUL characters and the per-key rate.

The ingest-only cases live beside the contract they guard (tests/api/test_ingest.py: body
over 256 KiB, NUL and surrogates, 1e400, nesting, the single-item rate limit;
tests/api/test_ingest_batch.py: more than 1000 items, a batch body over its limit). This
file covers the rest: the limits no test named yet, and the same limits on the other
endpoints that take a body."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from reviewqueue.lib.storable import MAX_ARRAY_ITEMS
from reviewqueue.models import Decision, QaReview, RateLimitWindow, Recommendation
from reviewqueue.services import ratelimit
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.ratelimit import Rate, parse_rate, rate_limit_hit, rate_limits_prune
from tests.api.test_ingest import URL, assert_problem, post
from tests.api.test_ingest_batch import post_batch
from tests.api.test_review import as_user, claim, decide
from tests.conftest import item


def _nested(depth):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


class TestArrayLengths:
    def test_more_than_50_evidence_items_is_400_naming_evidence(self, world):
        evidence = [{"title": f"doc {i}"} for i in range(51)]
        body = assert_problem(post(world.client(), item(evidence=evidence)), 400)
        assert body["errors"] == {"evidence": "Must have at most 50 items."}
        assert Recommendation.objects.count() == 0

    def test_50_evidence_items_are_accepted(self, world):
        evidence = [{"title": f"doc {i}"} for i in range(50)]
        response = post(world.client(), item(evidence=evidence))
        assert response.status_code == 201
        assert len(response.json()["evidence"]) == 50

    @pytest.mark.parametrize(
        ("overrides", "path"),
        [
            ({"metadata": {"tags": list(range(MAX_ARRAY_ITEMS + 1))}}, "metadata.tags"),
            (
                {
                    "action": {
                        "type": "refund.issue",
                        "payload": {"order_id": "A-1", "amount": 1, "lines": [0] * 1001},
                    }
                },
                "action.payload.lines",
            ),
            ({"metadata": {"deep": [{"list": [1] * 1001}]}}, "metadata.deep.0.list"),
        ],
    )
    def test_a_free_form_array_over_the_limit_is_400_naming_it(self, world, overrides, path):
        body = assert_problem(post(world.client(), item(**overrides)), 400)
        assert body["errors"] == {path: f"Must have at most {MAX_ARRAY_ITEMS} items."}
        assert path in body["detail"]
        assert Recommendation.objects.count() == 0

    def test_a_free_form_array_at_the_limit_is_accepted(self, world):
        tags = list(range(MAX_ARRAY_ITEMS))
        response = post(world.client(), item(metadata={"tags": tags}))
        assert response.status_code == 201
        assert response.json()["metadata"]["tags"] == tags

    def test_a_long_array_inside_one_batch_item_refuses_the_batch(self, world):
        items = [item(external_id="ok"), item(external_id="long", metadata={"t": [0] * 1001})]
        body = assert_problem(post_batch(world.client(), items), 400)
        assert body["errors"] == {"items.1.metadata.t": "Must have at most 1000 items."}
        assert Recommendation.objects.count() == 0

    def test_the_batch_keeps_its_own_item_limit(self, world, settings):
        settings.REVIEWQUEUE_MAX_BATCH_ITEMS = 1200
        items = [item(external_id=f"b-{i}") for i in range(1001)]
        results = post_batch(world.client(), items).json()["results"]
        assert len(results) == 1001 and {r["status"] for r in results} == {201}

    def test_a_modified_payload_with_a_long_array_is_400(self, world, people):
        rec, _ = recommendation_ingest(source=world.source, data=item())
        client = as_user(people.reviewer)
        claim(client)
        payload = {"order_id": "A-1", "amount": 1, "lines": [0] * 1001}
        response = decide(client, rec.pk, outcome="modify", payload=payload, reason_code="other")
        body = assert_problem(response, 400)
        assert body["errors"] == {"payload.lines": "Must have at most 1000 items."}
        assert not Decision.objects.exists()


class TestTextLengths:
    @pytest.mark.parametrize(
        ("overrides", "path", "limit"),
        [
            ({"rationale": "x" * 20_001}, "rationale", 20_000),
            ({"evidence": [{"title": "t" * 501}]}, "evidence.0.title", 500),
            ({"evidence": [{"title": "t", "snippet": "s" * 5001}]}, "evidence.0.snippet", 5000),
            (
                {"evidence": [{"title": "t", "url": "https://x.example/" + "p" * 2000}]},
                "evidence.0.url",
                2000,
            ),
            ({"external_id": "e" * 201}, "external_id", 200),
            ({"prompt_version": "v" * 201}, "prompt_version", 200),
            ({"model": {"name": "n" * 201, "version": "1"}}, "model.name", 200),
            ({"queue": "q" * 101}, "queue", 100),
        ],
    )
    def test_free_text_over_its_limit_is_400_naming_the_field(self, world, overrides, path, limit):
        body = assert_problem(post(world.client(), item(**overrides)), 400)
        assert body["errors"][path] == f"Must be at most {limit} characters."
        assert Recommendation.objects.count() == 0

    def test_the_longest_rationale_is_accepted(self, world):
        response = post(world.client(), item(rationale="x" * 20_000))
        assert response.status_code == 201

    @pytest.mark.parametrize("action", ["decision", "escalate"])
    def test_a_reviewers_comment_over_5000_characters_is_400(
        self,
        world,
        people,
        action,
    ):
        rec, _ = recommendation_ingest(source=world.source, data=item())
        client = as_user(people.reviewer)
        claim(client)
        body = {"comment": "c" * 5001} | ({"outcome": "approve"} if action == "decision" else {})
        response = client.post(
            f"/api/v1/recommendations/{rec.pk}/{action}",
            data=json.dumps(body),
            content_type="application/json",
        )
        problem = assert_problem(response, 400)
        assert problem["errors"] == {"comment": "Must be at most 5000 characters."}
        rec.refresh_from_db()
        assert rec.status == "in_review"

    def test_a_human_outcome_comment_over_5000_characters_is_400(self, world):
        world.queue.stage = "shadow"
        world.queue.save()
        rec, _ = recommendation_ingest(source=world.source, data=item())
        response = world.client().post(
            f"/api/v1/recommendations/{rec.pk}/human-outcome",
            data=json.dumps({"outcome": "approve", "comment": "c" * 5001}),
            content_type="application/json",
        )
        problem = assert_problem(response, 400)
        assert problem["errors"] == {"comment": "Must be at most 5000 characters."}

    def test_a_qa_comment_over_5000_characters_is_400(self, world, people):
        rec, _ = recommendation_ingest(source=world.source, data=item())
        Recommendation.objects.filter(pk=rec.pk).update(
            route="auto", status="auto_approved", qa_sampled=True
        )
        response = as_user(people.reviewer).post(
            f"/api/v1/recommendations/{rec.pk}/qa",
            data=json.dumps({"verdict": "correct", "comment": "c" * 5001}),
            content_type="application/json",
        )
        problem = assert_problem(response, 400)
        assert problem["errors"] == {"comment": "Must be at most 5000 characters."}
        assert not QaReview.objects.exists()


class TestBodiesOnTheReviewApi:
    """The parser's limits hold on every endpoint that takes a body, not only ingest."""

    @pytest.fixture
    def held(self, world, people):
        rec, _ = recommendation_ingest(source=world.source, data=item())
        client = as_user(people.reviewer)
        assert claim(client).status_code == 200
        return client, rec

    def test_a_decision_body_over_256_kib_is_413(self, held):
        client, rec = held
        response = decide(client, rec.pk, outcome="approve", comment="c" * (300 * 1024))
        body = assert_problem(response, 413)
        assert "262144" in body["detail"]
        assert not Decision.objects.exists()

    def test_a_deeply_nested_payload_is_400(self, held):
        client, rec = held
        response = decide(
            client, rec.pk, outcome="modify", payload={"a": _nested(40)}, reason_code="other"
        )
        body = assert_problem(response, 400)
        ((path, message),) = body["errors"].items()
        assert path.startswith("payload.a") and "Nested deeper than 32 levels" in message

    def test_a_nul_character_in_a_comment_is_400(self, held):
        client, rec = held
        body = assert_problem(decide(client, rec.pk, outcome="approve", comment="a\u0000b"), 400)
        assert body["errors"] == {"comment": "NUL characters are not allowed."}
        assert not Decision.objects.exists()

    def test_an_absurdly_deep_body_is_400_not_a_crash(self, held):
        client, rec = held
        raw = "[" * 100_000 + "]" * 100_000
        response = client.post(
            f"/api/v1/recommendations/{rec.pk}/decision", data=raw, content_type="application/json"
        )
        assert_problem(response, 400)


@pytest.fixture
def counters_unreachable(db, monkeypatch):
    """The counter statement fails (its table is renamed away, until the test's transaction
    rolls back); the warning clock starts afresh."""
    monkeypatch.setattr(ratelimit, "_warned_at", None)
    monkeypatch.setattr(ratelimit, "_unchecked", 0)
    table = RateLimitWindow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")


def limiter_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "reviewqueue.services.ratelimit"]


class TestRateLimit:
    """One budget per API key (REVIEWQUEUE_INGEST_RATE) over everything the key does,
    counted in PostgreSQL (services/ratelimit.py)."""

    def test_batches_and_reads_spend_the_same_budget(self, world, settings):
        settings.REVIEWQUEUE_INGEST_RATE = "3/m"
        client = world.client()
        rec_id = post(client, item()).json()["id"]
        assert post_batch(client, [item(external_id="b")]).status_code == 200
        assert client.get(f"{URL}/{rec_id}").status_code == 200
        response = client.get(f"{URL}/{rec_id}")
        body = assert_problem(response, 429)
        assert body["status"] == 429
        assert 1 <= int(response["Retry-After"]) <= 60
        assert_problem(post_batch(client, [item(external_id="c")]), 429)
        assert Recommendation.objects.count() == 2

    def test_people_reading_items_are_not_counted_against_a_key(
        self,
        world,
        people,
        settings,
    ):
        settings.REVIEWQUEUE_INGEST_RATE = "1/m"
        rec_id = post(world.client(), item()).json()["id"]
        reviewer = as_user(people.reviewer)
        codes = [reviewer.get(f"{URL}/{rec_id}").status_code for _ in range(5)]
        assert codes == [200] * 5
        assert_problem(world.client().get(f"{URL}/{rec_id}"), 429)

    def test_each_key_has_its_own_budget(self, world, settings):
        settings.REVIEWQUEUE_INGEST_RATE = "1/m"
        assert post(world.client(), item()).status_code == 201
        assert_problem(post(world.client(), item(external_id="again")), 429)
        other = world.client(world.other_key)
        assert post(other, item(queue="other", external_id="o")).status_code == 201

    def test_a_limit_that_cannot_be_checked_lets_requests_through_and_warns_once_a_minute(
        self, world, settings, counters_unreachable, caplog, monkeypatch
    ):
        settings.REVIEWQUEUE_INGEST_RATE = "1/m"
        clock = [1000.0]
        monkeypatch.setattr(ratelimit, "_clock", lambda: clock[0])
        client = world.client()
        codes = [post(client, item(external_id=f"u-{i}")).status_code for i in range(3)]
        clock[0] += 59
        codes.append(post(client, item(external_id="u-3")).status_code)
        assert codes == [201] * 4
        (line,) = limiter_warnings(caplog)
        assert "rate limits not checked" in line and "does not exist" in line
        clock[0] += 2  # a minute after the first line: the next one says how many went by
        assert post(client, item(external_id="u-4")).status_code == 201
        assert "4 request(s) let through" in limiter_warnings(caplog)[1]
        assert Recommendation.objects.count() == 5

    def test_a_failed_count_does_not_spoil_the_callers_transaction(
        self, world, counters_unreachable
    ):
        # Tests run inside a transaction, as a caller inside atomic() would: the count runs
        # in a savepoint, so the statements after it still work.
        assert rate_limit_hit({"test:x": "1/m"}) == []
        assert Recommendation.objects.count() == 0

    def test_a_count_is_one_row_per_key_and_window(self, world):
        now = datetime(2030, 1, 1, 12, 4, 59, tzinfo=UTC)
        for _ in range(3):
            (usage,) = rate_limit_hit({"test:a": "10/5m"}, now=now)
        assert (usage.count, usage.limit, usage.retry_after, usage.over) == (3, 10, 1, False)
        (row,) = RateLimitWindow.objects.all()
        assert (row.window_start, row.window_end) == (
            datetime(2030, 1, 1, 12, 0, tzinfo=UTC),
            datetime(2030, 1, 1, 12, 5, tzinfo=UTC),
        )
        (usage,) = rate_limit_hit({"test:a": "10/5m"}, now=now + timedelta(seconds=1))
        assert usage.count == 1 and usage.retry_after == 300  # the next window

    def test_ended_windows_are_pruned_and_current_ones_kept(self, world):
        now = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
        rate_limit_hit({"test:old": "5/m"}, now=now - timedelta(minutes=2))
        rate_limit_hit({"test:old": "5/m", "test:new": "5/m"}, now=now)
        assert rate_limits_prune(now=now) == 1
        assert sorted(RateLimitWindow.objects.values_list("key", "count")) == [
            ("test:new", 1),
            ("test:old", 1),
        ]

    def test_the_counter_table_is_unlogged(self, db):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relpersistence FROM pg_class WHERE relname = %s",
                [RateLimitWindow._meta.db_table],
            )
            assert cursor.fetchone() == ("u",)

    @pytest.mark.parametrize(
        ("text", "rate"),
        [("6000/m", Rate(6000, 60)), ("10/5m", Rate(10, 300)), ("50 / 2h", Rate(50, 7200))],
    )
    def test_rates_are_count_per_period(self, text, rate):
        assert parse_rate(text) == rate

    @pytest.mark.parametrize("text", ["6000", "10/5x", "/m", "ten/m"])
    def test_a_malformed_rate_is_a_configuration_error(self, text):
        with pytest.raises(ImproperlyConfigured, match="count/period"):
            parse_rate(text)
