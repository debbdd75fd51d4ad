"""The audit trail is append-only and hash-chained per queue by the database, whoever writes
it; `verify_audit` finds edits, deletions, reordering and a removed tail."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from reviewqueue.exceptions import IdempotencyConflict
from reviewqueue.lib.audit_chain import FIELDS, GENESIS, event_hash
from reviewqueue.models import AuditChainHead, AuditEvent, SourceQueue
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.ingest import recommendation_ingest, recommendation_ingest_batch
from reviewqueue.services.leases import leases_return_expired
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from reviewqueue.services.setup import api_key_create
from tests.conftest import item
from tests.factories import UserFactory, member


def chain_rows(chain: int) -> list[dict]:
    return list(
        AuditEvent.objects.filter(chain=chain)
        .annotate(data_text=Cast("data", TextField()))
        .order_by("seq")
        .values("chain", "seq", "prev_hash", "hash", "data_text", *FIELDS[:-1])
    )


def assert_valid_chain(chain: int) -> list[dict]:
    """Recomputed here from the columns, independently of the command under test."""
    rows = chain_rows(chain)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    prev = GENESIS
    for r in rows:
        assert r["prev_hash"] == prev
        assert event_hash(prev, {**r, "data": r["data_text"]}) == r["hash"]
        prev = r["hash"]
    head = AuditChainHead.objects.get(chain=chain)
    assert (head.seq, head.hash) == (len(rows), prev)
    return rows


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def tampering(*statements: tuple[str, tuple]) -> None:
    """What someone with the table owner's rights could do: switch the guard off."""
    with connection.cursor() as cursor:
        # (ALTER TABLE refuses while foreign-key checks are pending: run them first.)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE reviewqueue_auditevent DISABLE TRIGGER rq_audit_append_only")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE reviewqueue_auditevent ENABLE TRIGGER rq_audit_append_only")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_every_writer_chains_its_events_per_queue(world, people):
    recommendation_ingest(source=world.source, data=item(external_id="single"))  # WITH ... INSERT
    recommendation_ingest_batch(  # COPY, and one INSERT ... SELECT of the audit events
        source=world.source, items=[item(external_id=f"batch-{i}") for i in range(3)]
    )
    rec = recommendation_claim(user=people.reviewer, queue=world.queue)  # the claim's one statement
    assert rec is not None
    recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
    recommendation_ingest(source=world.other_source, data=item(queue="other", external_id="o"))

    rows = assert_valid_chain(world.queue.pk)
    assert [r["action"] for r in rows] == [
        "recommendation.created",
        "recommendation.created",
        "recommendation.created",
        "recommendation.created",
        "recommendation.claimed",
        "recommendation.decided",
    ]
    assert [r["action"] for r in assert_valid_chain(world.other_queue.pk)] == [
        "recommendation.created"
    ]
    api_key_create(source_name="refund-bot", actor=Actor.system("test"))  # no queue: chain 0
    assert [r["action"] for r in assert_valid_chain(0)] == ["api_key.created"]
    code, out = verify()
    assert code == 0, out
    assert "no problems" in out


def test_a_batch_records_each_item_as_a_single_create_does_in_the_batchs_order(world):
    recommendation_ingest(source=world.source, data=item(external_id="single", confidence=0.75))
    recommendation_ingest_batch(
        source=world.source,
        items=[item(external_id=f"batch-{i}", confidence=0.75) for i in (2, 0, 1)],
    )
    events = list(
        AuditEvent.objects.filter(action="recommendation.created")
        .select_related("recommendation")
        .order_by("seq")
    )
    assert [e.recommendation.external_id for e in events] == [
        "single",
        "batch-2",
        "batch-0",
        "batch-1",
    ]
    single, batched = events[0], events[1]
    assert single.data == {
        "external_id": "single",
        "route": "review",
        "status": "pending",
        "content_hash": single.recommendation.content_hash,
        "confidence": 0.75,
        "risk_score": single.recommendation.risk_score,
        "qa_sampled": False,
        "flags": [],
    }
    assert batched.data == {
        **single.data,
        "external_id": "batch-2",
        "content_hash": batched.recommendation.content_hash,
    }
    for field in ("actor_kind", "actor_source_id", "actor_label", "queue_id", "model_name"):
        assert getattr(batched, field) == getattr(single, field)
    assert batched.occurred_at == batched.recommendation.created_at
    assert_valid_chain(world.queue.pk)


def test_a_saved_event_knows_its_place_in_the_chain(world):
    first = audit_record(action="test.one", actor=Actor.system(), queue=world.queue)
    second = audit_record(action="test.two", actor=Actor.system(), queue=world.queue)
    assert (first.chain, first.seq, first.prev_hash) == (world.queue.pk, 1, GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash) and len(second.hash) == 64


def test_the_writer_cannot_choose_seq_or_hash(world):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reviewqueue_auditevent (occurred_at, actor_kind, actor_label, action,"
            " model_name, model_version, prompt_version, data, chain, seq, prev_hash, hash)"
            " VALUES (now(), 'system', 'x', 'forged', '', '', '', '{}', 99, 42, 'a', 'b')"
        )
    (row,) = assert_valid_chain(0)[-1:]
    assert row["action"] == "forged" and row["chain"] == 0 and row["hash"] != "b"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE reviewqueue_auditevent SET data = '{\"amount\": 1}'", "append-only"),
        ("DELETE FROM reviewqueue_auditevent", "append-only"),
        ("UPDATE reviewqueue_auditchainhead SET seq = seq - 1", "only move forward"),
        ("DELETE FROM reviewqueue_auditchainhead", "only move forward"),
    ],
)
def test_the_database_refuses_update_and_delete(world, sql, message):
    recommendation_ingest(source=world.source, data=item())
    with (
        pytest.raises(DatabaseError, match=message),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert_valid_chain(world.queue.pk)


# --- verify_audit finds tampering -----------------------------------------------------------------


@pytest.fixture
def five(world):
    """Five events in the refunds chain; returns their ids by seq."""
    for i in range(5):
        recommendation_ingest(source=world.source, data=item(external_id=f"t-{i}"))
    return {r["seq"]: r["id"] for r in chain_rows(world.queue.pk)}


def test_clean_trail_passes(world, five):
    code, out = verify()
    assert code == 0, out
    head = AuditChainHead.objects.get(chain=world.queue.pk)
    assert f"chain {world.queue.pk} (queue refunds): 5 events, head seq 5 {head.hash}: ok" in out


def test_an_edited_event_is_found(world, five):
    tampering(
        (
            "UPDATE reviewqueue_auditevent SET data = jsonb_set(data, '{route}', '\"auto\"') "
            "WHERE id = %s",
            (five[3],),
        )
    )
    code, out = verify()
    assert code == 1
    assert f"seq 3 id {five[3]}: edited" in out
    assert "1 problem(s) found" in out


def test_an_edited_and_rehashed_event_breaks_the_next_link(world, five):
    row = chain_rows(world.queue.pk)[2]
    row["actor_label"] = "someone else"
    forged = event_hash(row["prev_hash"], {**row, "data": row["data_text"]})
    tampering(
        (
            "UPDATE reviewqueue_auditevent SET actor_label = 'someone else', hash = %s "
            "WHERE id = %s",
            (forged, five[3]),
        )
    )
    code, out = verify()
    assert code == 1
    assert f"seq 4 id {five[4]}: broken link" in out and "seq 3" in out


def test_a_deleted_event_is_missing(world, five):
    tampering(("DELETE FROM reviewqueue_auditevent WHERE id = %s", (five[3],)))
    code, out = verify()
    assert code == 1
    assert f"chain {world.queue.pk} seq 3: missing" in out
    assert "1 problem(s) found" in out


def test_swapped_events_are_out_of_order(world, five):
    move = "UPDATE reviewqueue_auditevent SET seq = %s WHERE id = %s"
    tampering((move, (-3, five[3])), (move, (3, five[4])), (move, (4, five[3])))
    code, out = verify()
    assert code == 1
    assert f"seq 3 id {five[4]}: out of order" in out
    assert f"seq 4 id {five[3]}: out of order" in out
    assert "edited" not in out and "missing" not in out


def test_a_removed_tail_is_a_head_mismatch(world, five):
    tampering(("DELETE FROM reviewqueue_auditevent WHERE id IN (%s, %s)", (five[4], five[5])))
    code, out = verify()
    assert code == 1
    assert "head mismatch: the head is at seq 5 but the chain ends at seq 3" in out


def test_a_chain_emptied_entirely_is_a_head_mismatch(world, five):
    tampering(("DELETE FROM reviewqueue_auditevent WHERE chain = %s", (world.queue.pk,)))
    code, out = verify()
    assert code == 1 and f"chain {world.queue.pk} (queue refunds): 0 events" in out
    assert "head mismatch" in out


def test_events_written_after_a_removed_tail_leave_the_gap_visible(world, five):
    """The next event follows the head, not whatever happens to be last."""
    tampering(("DELETE FROM reviewqueue_auditevent WHERE id = %s", (five[5],)))
    head = AuditChainHead.objects.get(chain=world.queue.pk)
    recommendation_ingest(source=world.source, data=item(external_id="after"))
    *_, last, after = chain_rows(world.queue.pk)
    assert (last["seq"], after["seq"]) == (4, 6)
    assert after["prev_hash"] == head.hash != last["hash"]
    code, out = verify()
    assert code == 1 and f"chain {world.queue.pk} seq 5: missing" in out


def test_a_refused_replay_leaves_no_trace_in_the_chain(world):
    recommendation_ingest(source=world.source, data=item(external_id="x"))
    with pytest.raises(IdempotencyConflict), transaction.atomic():
        recommendation_ingest(source=world.source, data=item(external_id="x", priority=3))
    recommendation_ingest(source=world.source, data=item(external_id="y"))
    assert [r["seq"] for r in assert_valid_chain(world.queue.pk)] == [1, 2]


def test_queue_option_checks_one_chain(world, five):
    recommendation_ingest(source=world.other_source, data=item(queue="other"))
    tampering(("DELETE FROM reviewqueue_auditevent WHERE id = %s", (five[2],)))
    code, out = verify("--queue", "other")
    assert code == 0 and "queue other" in out and "queue refunds" not in out
    assert verify("--queue", "refunds")[0] == 1
    assert verify("--queue", "nope")[0] == 2


# --- Concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_every_chain_gapless_and_valid(world):
    """Single posts, batches spanning two queues in opposite orders (no deadlock: chain
    order), claims and decisions, all at once."""
    SourceQueue.objects.create(source=world.source, queue=world.other_queue)
    reviewers = [UserFactory(username=f"r{i}") for i in range(3)]
    for user in reviewers:
        member(user, world.queue)
    recommendation_ingest_batch(
        source=world.source, items=[item(external_id=f"seed-{i}") for i in range(30)]
    )
    barrier = threading.Barrier(8)

    def poster(n: int) -> None:
        for i in range(15):
            recommendation_ingest(source=world.source, data=item(external_id=f"p{n}-{i}"))

    def batcher(n: int) -> None:
        first, second = ("refunds", "other") if n % 2 else ("other", "refunds")
        for i in range(10):
            results = recommendation_ingest_batch(
                source=world.source,
                items=[
                    item(external_id=f"b{n}-{i}-{k}-{q}", queue=q)
                    for k in range(4)
                    for q in (first, second)
                ],
            )
            assert [r.status for r in results] == [201] * 8, results

    def reviewer(n: int) -> None:
        user = reviewers[n]
        for _ in range(10):
            rec = recommendation_claim(user=user, queue=world.queue)
            if rec is None:
                return
            recommendation_decide(user=user, recommendation_id=rec.pk, outcome="approve")

    def run(job):
        work, n = job
        barrier.wait()
        try:
            work(n)
        finally:
            connection.close()

    jobs = [(poster, 0), (poster, 1), (batcher, 0), (batcher, 1), (batcher, 2), (batcher, 3)]
    jobs += [(reviewer, 0), (reviewer, 1)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, jobs))

    refunds = assert_valid_chain(world.queue.pk)
    other = assert_valid_chain(world.other_queue.pk)
    assert len(refunds) == 30 + 30 + 4 * 10 * 4 + 2 * 2 * 10
    assert len(other) == 4 * 10 * 4
    assert verify()[0] == 0


def test_lease_sweep_across_queues_writes_chain_order(world, people):
    """The sweep's events of several queues go in chain order (one lock order for all)."""
    other_reviewer, rita = people.outsider, people.reviewer
    recommendation_ingest(source=world.other_source, data=item(queue="other", external_id="o"))
    recommendation_ingest(source=world.source, data=item(external_id="r"))
    recommendation_claim(user=other_reviewer, queue=world.other_queue)
    recommendation_claim(user=rita, queue=world.queue)
    assert leases_return_expired(now=timezone.now() + timedelta(hours=1)) == 2
    expired = AuditEvent.objects.filter(action="lease.expired").order_by("id")
    assert [e.chain for e in expired] == sorted([world.queue.pk, world.other_queue.pk])
    assert verify()[0] == 0


# --- verify_audit checks coverage ---------------------------------------------------------------


def test_coverage_passes_when_every_decided_item_has_its_events(world, people):
    from reviewqueue.services.review import recommendation_claim, recommendation_decide

    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="c-1"))
    recommendation_claim(user=people.reviewer, queue=world.queue)
    recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
    code, out = verify()
    assert code == 0, out
    assert "coverage: 1 decided item(s): every one has its events" in out


def test_coverage_names_decided_items_without_events(world, people):
    from django.utils import timezone

    from reviewqueue.domain.rows import decision_row
    from reviewqueue.models import Decision, Recommendation

    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="c-2"))
    # Decided around the services (as an import would): no decided event.
    Recommendation.objects.filter(pk=rec.pk).update(status="decided")
    decision_row(
        rec,
        kind="human",
        outcome="approve",
        payload=rec.payload,
        payload_hash="",
        now=timezone.now(),
        reviewer=people.reviewer,
    ).save()
    assert Decision.objects.count() == 1
    code, out = verify()
    assert code == 1
    assert f"item {rec.pk} (refunds, c-2): no recommendation.decided" in out
    assert "coverage: 1 decided item(s): 1 lack events" in out


def test_seeded_demo_history_is_on_the_record(db, settings, monkeypatch):
    from django.core.management import call_command

    from reviewqueue.models import Decision, Recommendation

    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", "demo-secret")
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:9100"]
    call_command("seed_demo", count=3, history_days=2, stdout=StringIO())
    history = Recommendation.objects.filter(external_id__startswith="demo-")
    decided = history.filter(decision__isnull=False)
    assert decided.exists()
    shadow = decided.filter(route="shadow").first()
    assert shadow is not None
    events = list(AuditEvent.objects.filter(recommendation=shadow).order_by("occurred_at", "id"))
    assert [e.action for e in events] == [
        "recommendation.created",
        "recommendation.claimed",
        "recommendation.blind_reviewed",
    ]
    decision = Decision.objects.get(recommendation=shadow)
    assert events[0].occurred_at == shadow.created_at
    assert events[2].occurred_at == decision.decided_at
    code, out = verify()
    assert code == 0, out
