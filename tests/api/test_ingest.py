"""The ingest API contract: every status code, on the real database."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewqueue.models import ApiKey, AuditEvent, Decision, Execution, Recommendation
from reviewqueue.selectors.targets import targets_forget
from tests.conftest import item

URL = "/api/v1/recommendations"


def post(client, body, url=URL, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("urn:")
    return body


class TestCreate:
    def test_create_answers_201_with_the_stored_item(self, world):
        response = post(world.client(), item())
        assert response.status_code == 201
        body = response.json()
        assert body["queue"] == "refunds" and body["external_id"] == "ticket-8812:refund"
        assert body["status"] == "pending" and body["route"] == "review"
        assert body["action"] == {
            "type": "refund.issue",
            "payload": {"order_id": "A-1", "amount": 40.0},
        }
        assert body["model"] == {"name": "refund-agent", "version": "2026-10-01"}
        assert body["expires_at"] == "2036-11-23T12:00:00Z"
        assert body["created_at"].endswith("Z") and body["decision"] is None
        rec = Recommendation.objects.get(pk=body["id"])
        assert rec.source == world.source and rec.due_at == rec.created_at + timedelta(minutes=60)

    def test_create_writes_an_audit_event_in_the_same_transaction(self, world):
        body = post(world.client(), item()).json()
        event = AuditEvent.objects.get(recommendation_id=body["id"])
        assert event.action == "recommendation.created"
        assert event.actor_kind == "source" and event.actor_label == "refund-bot"
        assert event.model_version == "2026-10-01" and event.prompt_version == "refund-v7"
        assert event.data["route"] == "review"

    def test_identical_replay_answers_200_with_the_original(self, world):
        first = post(world.client(), item()).json()
        # Same content, keys in another order and 40 written as an integer.
        replay = item(action={"payload": {"amount": 40, "order_id": "A-1"}, "type": "refund.issue"})
        response = post(world.client(), replay)
        assert response.status_code == 200
        assert response.json()["id"] == first["id"]
        assert Recommendation.objects.count() == 1
        assert AuditEvent.objects.filter(action="recommendation.created").count() == 1

    def test_same_external_id_with_other_content_is_409(self, world):
        first = post(world.client(), item()).json()
        response = post(world.client(), item(confidence=0.5))
        body = assert_problem(response, 409)
        assert body["id"] == first["id"] and "different content" in body["detail"]
        assert Recommendation.objects.get().confidence == 0.91

    def test_two_sources_may_use_the_same_external_id(self, world):
        world.other_source.queues.add(world.queue)
        assert post(world.client(), item()).status_code == 201
        assert post(world.client(world.other_key), item()).status_code == 201


class TestValidation:
    @pytest.mark.parametrize(
        ("overrides", "path", "message"),
        [
            ({"confidence": 1.5}, "confidence", "Must be at most 1."),
            ({"confidence": -0.1}, "confidence", "Must be at least 0."),
            ({"risk_score": "high"}, "risk_score", "Must be of type number."),
            ({"risk_score": True}, "risk_score", "Must be of type number."),
            ({"external_id": ""}, "external_id", "Must not be empty."),
            ({"risk": 0.2}, "risk", "Unknown field."),
            ({"model": {"name": "x"}}, "model.version", "This field is required."),
            ({"priority": 1.5}, "priority", "Must be of type integer."),
            (
                {"evidence": [{"title": "x", "url": "javascript:alert(1)"}]},
                "evidence.0.url",
                "Must be an http:// or https:// URL.",
            ),
            ({"expires_at": "tomorrow"}, "expires_at", "Must be an ISO 8601 date-time"),
            ({"expires_at": "2036-11-23T12:00:00"}, "expires_at", "Must include a time zone"),
            (
                {"expires_at": "0001-01-01T00:00:00+01:00"},
                "expires_at",
                "Must be a date-time between",
            ),
            (
                {"expires_at": "9999-12-31T23:59:59-01:00"},
                "expires_at",
                "Must be a date-time between",
            ),
        ],
    )
    def test_bad_fields_answer_400_with_their_path(self, world, overrides, path, message):
        body = assert_problem(post(world.client(), item(**overrides)), 400)
        assert body["errors"][path].startswith(message)
        assert Recommendation.objects.count() == 0

    def test_missing_required_fields_are_each_named(self, world):
        body = assert_problem(post(world.client(), {"queue": "refunds"}), 400)
        for field in ("external_id", "action", "confidence", "risk_score", "model"):
            assert body["errors"][field] == "This field is required."

    def test_payload_not_matching_the_action_schema_is_400_with_field_paths(self, world):
        bad = item(action={"type": "refund.issue", "payload": {"order_id": 7, "amount": -1}})
        body = assert_problem(post(world.client(), bad), 400)
        assert body["errors"] == {
            "action.payload.order_id": "Must be of type string.",
            "action.payload.amount": "Must be at least 0.",
        }
        assert Recommendation.objects.count() == 0

    def test_envelope_and_payload_errors_come_together_in_one_400(self, world):
        bad = item(
            confidence=1.5,
            action={"type": "refund.issue", "payload": {"order_id": 7, "amount": -1}},
            expires_at="tomorrow",
        )
        del bad["model"]
        body = assert_problem(post(world.client(), bad), 400)
        assert body["errors"] == {
            "confidence": "Must be at most 1.",
            "model": "This field is required.",
            "action.payload.order_id": "Must be of type string.",
            "action.payload.amount": "Must be at least 0.",
            "expires_at": "Must be an ISO 8601 date-time, e.g. 2026-11-23T12:00:00Z.",
        }
        assert Recommendation.objects.count() == 0

    def test_an_unknown_queue_is_named_beside_the_envelope_errors(self, world):
        body = assert_problem(post(world.client(), item(queue="nope", risk_score=-1)), 400)
        assert body["errors"] == {
            "queue": "Unknown queue 'nope'.",
            "risk_score": "Must be at least 0.",
        }

    def test_a_forbidden_queue_reveals_no_payload_errors(self, world):
        bad = item(queue="other", action={"type": "refund.issue", "payload": {"amount": -1}})
        assert_problem(post(world.client(), bad), 403)
        body = assert_problem(post(world.client(), {**bad, "confidence": 2}), 400)
        assert body["errors"] == {"confidence": "Must be at most 1."}

    def test_unknown_queue_is_400(self, world):
        body = assert_problem(post(world.client(), item(queue="nope")), 400)
        assert body["errors"] == {"queue": "Unknown queue 'nope'."}

    def test_unknown_action_type_is_400(self, world):
        bad = item(action={"type": "refund.void", "payload": {}})
        body = assert_problem(post(world.client(), bad), 400)
        assert "action.type" in body["errors"]

    def test_body_that_is_not_json_is_400(self, world):
        response = world.client().post(URL, data="{not json", content_type="application/json")
        assert_problem(response, 400)

    def test_body_that_is_a_list_is_400(self, world):
        body = assert_problem(post(world.client(), [item()]), 400)
        assert body["errors"] == {"body": "Must be an object."}

    def test_wrong_content_type_is_415(self, world):
        response = world.client().post(URL, data="queue=refunds", content_type="text/plain")
        assert_problem(response, 415)

    def test_body_over_the_limit_is_413_and_nothing_is_stored(self, world):
        huge = item(metadata={"blob": "x" * (300 * 1024)})
        body = assert_problem(post(world.client(), huge), 413)
        assert "262144" in body["detail"]
        assert Recommendation.objects.count() == 0


class TestAuth:
    def test_no_key_is_401_with_a_challenge(self, world):
        response = post(world.client(key=False), item())
        assert_problem(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")

    @pytest.mark.parametrize("key", ["nonsense", "rq_abcdefabcdef_wrongsecret", "Bearer"])
    def test_bad_key_is_401(self, world, key):
        assert_problem(post(world.client(key=key), item()), 401)

    def test_right_prefix_wrong_secret_is_401(self, world):
        forged = world.key.rsplit("_", 1)[0] + "_" + "A" * 43
        assert_problem(post(world.client(key=forged), item()), 401)

    def test_revoked_key_is_401(self, world):
        ApiKey.objects.filter(source=world.source).update(revoked_at=timezone.now())
        body = assert_problem(post(world.client(), item()), 401)
        assert "revoked" in body["detail"]

    def test_expired_key_is_401(self, world):
        ApiKey.objects.filter(source=world.source).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        body = assert_problem(post(world.client(), item()), 401)
        assert "expired" in body["detail"]

    def test_disabled_source_is_401(self, world):
        world.source.is_active = False
        world.source.save()
        assert_problem(post(world.client(), item()), 401)

    def test_key_not_allowed_on_the_queue_is_403(self, world):
        body = assert_problem(post(world.client(), item(queue="other")), 403)
        assert "refund-bot" in body["detail"] and "other" in body["detail"]
        assert Recommendation.objects.count() == 0

    def test_key_use_is_recorded_at_most_once_a_minute(self, world):
        post(world.client(), item())
        key = ApiKey.objects.get(source=world.source)
        first_use = key.last_used_at
        assert first_use is not None
        post(world.client(), item(external_id="second"))
        key.refresh_from_db()
        assert key.last_used_at == first_use

    def test_plain_keys_are_never_stored(self, world):
        post(world.client(), item())
        # kind_prefix_secret; the secret (token_urlsafe) may itself contain "_".
        secret = world.key.split("_", 2)[2]
        with connection.cursor() as cursor:
            cursor.execute("SELECT prefix, key_hash FROM reviewqueue_apikey")
            rows = cursor.fetchall()
            cursor.execute("SELECT data::text FROM reviewqueue_auditevent")
            audit = " ".join(r[0] for r in cursor.fetchall())
        assert rows and all(secret not in prefix + digest for prefix, digest in rows)
        assert secret not in audit


class TestRateLimit:
    def test_over_the_rate_answers_429_with_retry_after(self, world, settings):
        settings.REVIEWQUEUE_INGEST_RATE = "3/m"
        client = world.client()
        codes = [post(client, item(external_id=f"r{i}")).status_code for i in range(3)]
        assert codes == [201, 201, 201]
        response = post(client, item(external_id="r3"))
        assert_problem(response, 429)
        assert 1 <= int(response["Retry-After"]) <= 60
        assert Recommendation.objects.count() == 3

    def test_the_limit_is_per_key(self, world, settings):
        settings.REVIEWQUEUE_INGEST_RATE = "1/m"
        world.other_source.queues.add(world.queue)
        assert post(world.client(), item()).status_code == 201
        assert post(world.client(world.other_key), item()).status_code == 201
        assert post(world.client(), item(external_id="x")).status_code == 429


class TestRouting:
    def test_supervised_low_risk_high_confidence_is_auto_approved_with_an_outbox_row(self, world):
        world.queue.stage = "supervised"
        world.queue.save()
        body = post(world.client(), item(risk_score=0.1, confidence=0.99)).json()
        assert body["route"] == "auto" and body["status"] == "auto_approved"
        assert body["decision"]["kind"] == "policy" and body["decision"]["outcome"] == "approve"
        assert body["execution"]["status"] == "pending"
        execution = Execution.objects.get(recommendation_id=body["id"])
        assert execution.payload == {"order_id": "A-1", "amount": 40.0}
        assert execution.idempotency_key == f"rq-{body['id']}"
        assert (
            Decision.objects.get(recommendation_id=body["id"]).payload_hash
            == execution.payload_hash
        )

    @pytest.mark.parametrize(
        ("stage", "risk", "confidence", "route", "status"),
        [
            ("shadow", 0.1, 0.99, "shadow", "shadow"),
            ("approval", 0.1, 0.99, "review", "pending"),
            ("supervised", 0.5, 0.99, "review", "pending"),
            ("supervised", 0.8, 0.99, "escalated", "escalated"),
            ("autonomous", 0.9, 0.2, "auto", "auto_approved"),
        ],
    )
    def test_each_stage_routes_on_arrival(self, world, stage, risk, confidence, route, status):
        world.queue.stage = stage
        world.queue.save()
        body = post(world.client(), item(risk_score=risk, confidence=confidence)).json()
        assert (body["route"], body["status"]) == (route, status)
        assert Execution.objects.filter(recommendation_id=body["id"]).exists() == (route == "auto")

    def test_a_tripped_breaker_sends_supervised_items_to_review(self, world):
        world.queue.stage = "supervised"
        world.queue.breaker_tripped_at = timezone.now()
        world.queue.save()
        body = post(world.client(), item(risk_score=0.1, confidence=0.99)).json()
        assert body["route"] == "review"


class TestRead:
    def test_a_source_reads_its_own_item_with_decision_and_execution(self, world):
        created = post(world.client(), item()).json()
        response = world.client().get(f"{URL}/{created['id']}")
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == created["id"] and body["status"] == "pending"
        assert body["decision"] is None and body["execution"] is None

    def test_another_sources_item_is_404(self, world):
        created = post(world.client(), item()).json()
        assert_problem(world.client(world.other_key).get(f"{URL}/{created['id']}"), 404)

    @pytest.mark.parametrize("bad_id", ["nope", "00000000-0000-0000-0000-000000000000"])
    def test_unknown_ids_are_404(self, world, bad_id):
        assert_problem(world.client().get(f"{URL}/{bad_id}"), 404)

    def test_lookup_by_external_id(self, world):
        created = post(world.client(), item()).json()
        post(world.client(), item(external_id="another"))
        body = world.client().get(URL, {"external_id": "ticket-8812:refund"}).json()
        assert [r["id"] for r in body["results"]] == [created["id"]]
        assert (
            world.client(world.other_key)
            .get(URL, {"external_id": "ticket-8812:refund"})
            .json()["results"]
            == []
        )

    def test_listing_pages_with_a_cursor(self, world):
        ids = [post(world.client(), item(external_id=f"e{i}")).json()["id"] for i in range(5)]
        first = world.client().get(URL, {"limit": 2}).json()
        second = world.client().get(URL, {"limit": 2, "cursor": first["next"]}).json()
        third = world.client().get(URL, {"limit": 2, "cursor": second["next"]}).json()
        seen = [r["id"] for page in (first, second, third) for r in page["results"]]
        assert seen == list(reversed(ids)) and third["next"] is None

    def test_listing_pages_through_a_batch_sharing_one_created_at(self, world):
        # A batch's items share created_at: the cursor's id breaks the tie, so paging in
        # steps that end inside the batch shows every item once, newest id first.
        items = [item(external_id=f"b{i}") for i in range(7)]
        response = post(world.client(), {"items": items}, url=URL + "/batch")
        assert response.status_code == 200, response.content
        assert len({r.created_at for r in Recommendation.objects.all()}) == 1
        seen, cursor = [], None
        for _ in range(4):
            page = world.client().get(URL, {"limit": 3, **({"cursor": cursor} if cursor else {})})
            seen += [r["id"] for r in page.json()["results"]]
            cursor = page.json()["next"]
            if cursor is None:
                break
        stored = Recommendation.objects.order_by("-id").values_list("id", flat=True)
        assert seen == [str(pk) for pk in stored] and cursor is None

    @pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"cursor": "!!"}])
    def test_bad_list_parameters_are_400(self, world, params):
        assert_problem(world.client().get(URL, params), 400)


def work(captured):
    verbs = [q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries]
    return [v for v in verbs if v not in ("BEGIN", "COMMIT")]


class TestCost:
    # Transactional, so the service's atomic block is a real BEGIN/COMMIT (not a savepoint
    # inside the test's transaction) and the count is what production runs.
    @pytest.mark.django_db(transaction=True)
    def test_a_single_create_costs_the_same_statements_whatever_the_table_size(self, world):
        client = world.client()
        post(client, item(external_id="warm-up"))  # the key's last-used time is written once
        with CaptureQueriesContext(connection) as captured:
            assert post(client, item(external_id="a")).status_code == 201
        small = work(captured)  # read now: the next request's reset_queries clears the log
        Recommendation.objects.bulk_create(
            [
                Recommendation(
                    source=world.source,
                    queue=world.queue,
                    action_type=world.action_type,
                    external_id=f"bulk-{i}",
                    content_hash="x",
                    payload={},
                    confidence=0.5,
                    risk_score=0.5,
                    model_name="m",
                    model_version="1",
                    route="review",
                    status="pending",
                )
                for i in range(2000)
            ]
        )
        with CaptureQueriesContext(connection) as captured:
            assert post(client, item(external_id="b")).status_code == 201
        large = work(captured)
        targets_forget()  # as when the per-process cache of the source's targets runs out
        with CaptureQueriesContext(connection) as captured:
            assert post(client, item(external_id="c")).status_code == 201
        cold = work(captured)
        # Key lookup, the key's rate-limit count (INSERT ... ON CONFLICT, an unlogged table:
        # services/ratelimit.py), then one transaction: the queue's routing state read
        # share-locked (SELECT ... FOR SHARE: a breaker trip applies from the very next item),
        # and one statement inserting the recommendation and then its audit event (WITH ...
        # INSERT ... SELECT FROM it: lib/bulk.insert_together); plus the target lookup when
        # the per-process cache is cold. Nothing grows with the table.
        routed = ["SELECT", "WITH"]
        assert small == large == ["SELECT", "INSERT", *routed], (small, large)
        assert cold == ["SELECT", "INSERT", "SELECT", *routed], cold


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return {"a": value}


class TestHostileInput:
    """What JSON allows but storage refuses is a 400 naming the place, never a 500."""

    @pytest.mark.parametrize(
        ("raw", "path", "message"),
        [
            (json.dumps(item(external_id="a\u0000b")), "external_id", "NUL characters"),
            (json.dumps(item(rationale="x\ud800y")), "rationale", "Lone surrogate"),
            (
                json.dumps(item()).replace('"amount": 40.0', '"amount": 1e400'),
                "action.payload.amount",
                "finite",
            ),
            (json.dumps(item(metadata={"k\u0000": 1})), "metadata", "A key is not valid text"),
            (json.dumps(item(metadata=_nested(40))), "metadata", "Nested deeper"),
        ],
    )
    def test_unstorable_values_are_400_with_their_path(self, world, raw, path, message):
        response = world.client().post(URL, data=raw, content_type="application/json")
        body = assert_problem(response, 400)
        ((where, text),) = body["errors"].items()
        assert where.startswith(path) and message in text
        assert Recommendation.objects.count() == 0

    def test_absurdly_deep_json_is_400(self, world):
        raw = "[" * 100_000 + "]" * 100_000
        assert_problem(world.client().post(URL, data=raw, content_type="application/json"), 400)
