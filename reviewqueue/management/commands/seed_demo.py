import random
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import F
from django.utils import timezone

from reviewqueue.domain import reasons
from reviewqueue.domain.rows import decision_row
from reviewqueue.lib.canonical import content_hash
from reviewqueue.lib.diff import is_cosmetic, json_diff
from reviewqueue.models import AuditEvent, Decision, Queue, Recommendation, Source, User, Vote
from reviewqueue.services.audit import Actor, audit_chain_order, audit_event
from reviewqueue.services.ingest import recommendation_ingest_batch
from reviewqueue.services.setup import api_key_create, config_apply, user_create

MODELS = [
    ("support-agent", "2026-09-01"),
    ("support-agent", "2026-10-01"),
    ("support-agent", "2026-11-01"),
]
PROMPTS = ["refund-v6", "refund-v7", "refund-v8"]
REASONS = [
    "Customer was charged twice for the same order; the second charge has no matching shipment.",
    "Parcel marked lost by the carrier 9 days ago; policy allows a full refund after 7 days.",
    "Customer reports a damaged item and attached photos; partial refund matches policy table B.",
    "Subscription renewed after the customer cancelled within the grace period.",
]


def _refund(i: int, rng: random.Random) -> dict[str, Any]:
    model = rng.choice(MODELS)
    risk = round(min(1.0, max(0.0, rng.betavariate(2, 4))), 3)
    order = f"A-{10000 + i}"
    return {
        "queue": "refunds",
        "external_id": f"demo-ticket-{i}:refund",
        "action": {
            "type": "refund.issue",
            "payload": {
                "order_id": order,
                "amount": round(rng.uniform(5, 400), 2),
                "currency": rng.choice(["EUR", "USD", "GBP"]),
                "note": "Refund per policy",
            },
        },
        "confidence": round(min(1.0, max(0.0, rng.betavariate(8, 2))), 3),
        "risk_score": risk,
        "rationale": rng.choice(REASONS),
        "evidence": [
            {
                "title": f"Order {order}",
                "url": f"https://crm.example.com/orders/{order}",
                "snippet": "Two captures of the same amount, 3 minutes apart.",
            },
            {"title": "Refund policy §4.2", "url": "https://wiki.example.com/policy/refunds#4-2"},
        ],
        "model": {"name": model[0], "version": model[1]},
        "prompt_version": rng.choice(PROMPTS),
        "priority": rng.choice([0, 0, 0, 0, 1, 2]),
        "metadata": {"customer_tier": rng.choice(["bronze", "silver", "gold"])},
    }


def _address(i: int, rng: random.Random) -> dict[str, Any]:
    model = rng.choice(MODELS)
    return {
        "queue": "accounts",
        "external_id": f"demo-ticket-{i}:address",
        "action": {
            "type": "account.update_address",
            "payload": {
                "account_id": f"C-{5000 + i}",
                "address": {
                    "line1": f"{rng.randint(1, 200)} Harbour Street",
                    "city": rng.choice(["Leeds", "Ghent", "Lyon"]),
                    "postcode": f"{rng.randint(1000, 9999)}",
                    "country": rng.choice(["GB", "BE", "FR"]),
                },
            },
        },
        "confidence": round(min(1.0, max(0.0, rng.betavariate(9, 1.5))), 3),
        "risk_score": round(min(1.0, max(0.0, rng.betavariate(2, 5))), 3),
        "rationale": "Customer asked in chat to update their delivery address; identity verified by OTP.",
        "evidence": [{"title": "Chat transcript", "url": f"https://support.example.com/chats/{i}"}],
        "model": {"name": model[0], "version": model[1]},
        "prompt_version": "address-v2",
    }


def cancellation(
    i: int, rng: random.Random, *, locked: bool = False, sure: bool = False
) -> dict[str, Any]:
    """A proposed subscription cancellation. `sure`: low risk and high confidence, which a
    supervised queue auto-executes; `locked`: the demo target refuses it (422)."""
    sub = f"{'LOCKED' if locked else 'S'}-{70000 + i}"
    return {
        "queue": "cancellations",
        "external_id": f"demo-cancel-{'burst-' if locked else ''}{i}",
        "action": {
            "type": "subscription.cancel",
            "payload": {
                "subscription_id": sub,
                "effective": rng.choice(["end_of_term", "end_of_term", "immediately"]),
                "refund_prorated": rng.random() < 0.3,
            },
        },
        "confidence": round(rng.uniform(0.93, 0.99) if sure else rng.betavariate(8, 2), 3),
        "risk_score": round(rng.uniform(0.02, 0.2) if sure else rng.betavariate(2, 5), 3),
        "rationale": "Customer asked to cancel in chat and declined the retention offer twice.",
        "evidence": [
            {"title": "Chat transcript", "url": f"https://support.example.com/chats/c{i}"},
            {"title": f"Subscription {sub}", "url": f"https://billing.example.com/subs/{sub}"},
        ],
        "model": {"name": MODELS[2][0], "version": MODELS[2][1]},
        "prompt_version": "cancel-v3",
    }


class Command(BaseCommand):
    help = "Load the demo config, users, an API key and a few hundred recommendations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--history-days",
            type=int,
            default=30,
            help="days of decided history for the reports (0 for none)",
        )

    def handle(self, *args: Any, count: int, seed: int, history_days: int, **options: Any) -> None:
        actor = Actor.system("seed_demo")
        passwords = {}
        # Users first: the config's [[members]] name them.
        for username, role in (("admin", "admin"), ("alice", "senior"), ("bob", "reviewer")):
            passwords[username] = f"demo-{secrets.token_urlsafe(9)}"
            user_create(
                username=username, role=role, password=passwords[username], queues=[], actor=actor
            )
        config = Path(settings.BASE_DIR) / "demo" / "reviewqueue.toml"
        config_apply(text=config.read_text(), actor=actor)
        # A second reviewer for the consensus queue (the file's members are alice and bob,
        # whom its documented setup creates first).
        passwords["carol"] = f"demo-{secrets.token_urlsafe(9)}"
        user_create(
            username="carol",
            role="reviewer",
            password=passwords["carol"],
            queues=["accounts"],
            actor=actor,
        )
        source = Source.objects.get(name="support-agent")
        if not Recommendation.objects.filter(source=source).exists():
            rng = random.Random(seed)
            items = [_refund(i, rng) if i % 3 else _address(i, rng) for i in range(count)]
            results = recommendation_ingest_batch(source=source, items=items)
            # Spread arrival times over the last two days so ages and SLAs look real.
            for r in results:
                if r.recommendation_id:
                    delta = timedelta(minutes=rng.randint(1, 240))
                    Recommendation.objects.filter(pk=r.recommendation_id).update(
                        created_at=F("created_at") - delta,
                        updated_at=F("updated_at") - delta,
                        due_at=F("due_at") - delta,
                    )
            self.stdout.write(
                f"Created {sum(r.status == 201 for r in results)} demo recommendations."
            )
        if not Recommendation.objects.filter(queue__slug="cancellations").exists():
            rng = random.Random(seed + 2)
            recommendation_ingest_batch(
                source=source, items=[cancellation(i, rng) for i in range(40)]
            )
        if history_days > 0 and not Decision.objects.filter(kind="human").exists():
            made = _history(source, history_days, random.Random(seed + 1))
            self.stdout.write(f"Created {made} decided items over the last {history_days} days.")
            voted = _consensus_history(min(history_days, 14), random.Random(seed + 4))
            self.stdout.write(f"Gave {voted} of the accounts queue's history items two votes.")
        if history_days > 0 and not Decision.objects.filter(queue__slug="cancellations").exists():
            made = _shadow_history(source, history_days, random.Random(seed + 3))
            self.stdout.write(f"Created {made} blind-reviewed cancellations (shadow history).")
        _, key = api_key_create(source_name="support-agent", name="demo", actor=actor)
        self.stdout.write("")
        self.stdout.write("Demo accounts (passwords are new on every start):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<6} {password}")
        self.stdout.write(f"API key for source 'support-agent':\n  {key}")
        key_file = Path(settings.VAR_DIR) / "demo-api-key"
        key_file.touch(mode=0o600)
        key_file.chmod(0o600)  # a secret: readable by this user only
        key_file.write_text(key + "\n")


def _human_decision(
    rec: Recommendation,
    outcome: str,
    final: dict[str, Any] | None,
    reason: str,
    decided: datetime,
    reviewer: User,
) -> Decision:
    """A person's decision on a history item, with its diff as the app would compute it."""
    changes = json_diff(rec.payload, final) if outcome == "modify" else []
    return decision_row(
        rec,
        kind="human",
        outcome=outcome,
        payload=final,
        payload_hash=content_hash(final) if final is not None else "",
        now=decided,
        reviewer=reviewer,
        diff=changes,
        is_cosmetic=is_cosmetic(changes, rec.action_type.cosmetic_fields) if changes else None,
        reason_code=reason,
    )


def _history_audit(source: Source, recs: list[Recommendation], decisions: list[Decision]) -> None:
    """The events a real run would have written for each history item, at their historical
    times: created (by the source), claimed and decided (or blind-reviewed) by the person.
    Built by the one audit writer's `audit_event`; the database chains them on insert.
    Inserted oldest first, so each chain's order follows the history's."""
    events = []
    by_source = Actor.of_source(source)
    for rec, decision in zip(recs, decisions, strict=True):
        assert decision.reviewer is not None and rec.claimed_at is not None  # a person decided
        person = Actor.of_user(decision.reviewer)
        decided_action = (
            "recommendation.blind_reviewed" if rec.route == "shadow" else "recommendation.decided"
        )
        stamped = [
            (
                rec.created_at,
                audit_event(
                    action="recommendation.created",
                    actor=by_source,
                    recommendation=rec,
                    data={
                        "external_id": rec.external_id,
                        "route": rec.route,
                        "status": "shadow" if rec.route == "shadow" else "pending",
                        "content_hash": rec.content_hash,
                        "confidence": rec.confidence,
                        "risk_score": rec.risk_score,
                        "qa_sampled": False,
                        "seeded": True,
                    },
                ),
            ),
            (
                rec.claimed_at,
                audit_event(
                    action="recommendation.claimed",
                    actor=person,
                    recommendation=rec,
                    data={"escalated": False, "seeded": True},
                ),
            ),
            (
                decision.decided_at,
                audit_event(
                    action=decided_action,
                    actor=person,
                    recommendation=rec,
                    data={
                        "outcome": decision.outcome,
                        "reason_code": decision.reason_code,
                        "comment": decision.comment,
                        "payload_hash": decision.payload_hash,
                        "diff": decision.diff,
                        "is_cosmetic": decision.is_cosmetic,
                        "seeded": True,
                    },
                ),
            ),
        ]
        for when, event in stamped:
            event.occurred_at = when
            events.append(event)
    events.sort(key=lambda e: e.occurred_at)
    AuditEvent.objects.bulk_create(audit_chain_order(events), batch_size=1000)


def _history(source: Source, days: int, rng: random.Random) -> int:
    """Decided items for the reports: written directly, as an import would, with a slowly
    rising approval rate and a newer model version in the second half."""
    now = timezone.now()
    people = list(User.objects.filter(username__in=["alice", "bob"]))
    recs, decisions = [], []
    for queue in Queue.objects.filter(slug__in=["refunds", "accounts"]):
        action = queue.action_types.first()
        if action is None:
            continue
        for day in range(days, 0, -1):
            quality = 0.80 + 0.18 * (days - day) / days
            for i in range(rng.randint(10, 30)):
                decided = (now - timedelta(days=day)).replace(hour=8, minute=0) + timedelta(
                    seconds=rng.uniform(0, 10 * 3600)
                )
                wait = rng.expovariate(1 / 900) + 20
                review = min(wait - 5, rng.expovariate(1 / 70) + 5)
                payload: dict[str, Any] = (
                    {"order_id": f"A-{day}-{i}", "amount": 40.0, "currency": "EUR"}
                    if queue.slug == "refunds"
                    else {
                        "account_id": f"C-{day}-{i}",
                        "address": {"line1": "1 Main St", "city": "Ghent", "country": "BE"},
                    }
                )
                draw = rng.random()
                outcome = (
                    "approve"
                    if draw < quality
                    else ("modify" if draw < quality + (1 - quality) * 0.6 else "reject")
                )
                rec = Recommendation(
                    source=source,
                    queue=queue,
                    action_type=action,
                    external_id=f"demo-history-{queue.slug}-{day}-{i}",
                    content_hash=content_hash(payload),
                    payload=payload,
                    confidence=round(rng.uniform(0.6, 0.99), 3),
                    risk_score=round(rng.uniform(0.05, 0.6), 3),
                    rationale="Demo history",
                    model_name="support-agent",
                    model_version=MODELS[0][1] if day > days // 2 else MODELS[2][1],
                    prompt_version=rng.choice(PROMPTS),
                    route="review",
                    status="decided",
                    created_at=decided - timedelta(seconds=wait),
                    updated_at=decided,
                    claimed_at=decided - timedelta(seconds=review),
                    closed_at=decided,
                )
                final: dict[str, Any] | None = payload
                reason = ""
                if outcome == "modify":
                    if queue.slug == "refunds":
                        final = (
                            {**payload, "amount": 35.0}
                            if rng.random() < 0.5
                            else {**payload, "note": "checked"}
                        )
                        reason = "wrong_amount" if "note" not in final else "other"
                    else:
                        final = {
                            **payload,
                            "address": {**payload["address"], "line1": "1 Main Street"},
                        }
                        reason = "bad_address"
                elif outcome == "reject":
                    final, reason = None, rng.choice(reasons.codes(queue.reason_codes)[:3])
                recs.append(rec)
                decisions.append(
                    _human_decision(rec, outcome, final, reason, decided, rng.choice(people))
                )
    Recommendation.objects.bulk_create(recs, batch_size=1000)
    Decision.objects.bulk_create(decisions, batch_size=1000)
    _history_audit(source, recs, decisions)
    return len(decisions)


def _shadow_history(source: Source, days: int, rng: random.Random) -> int:
    """The cancellations queue's shadow period: at least 20 blind reviews a day. In the last
    two weeks they agree with the AI but for one cosmetic change now and then; before that,
    ~6% real disagreements. So its readiness report shows shadow -> approval met
    (agreement) and, on the same days, approval -> supervised met but for the incidents
    gate (checked by hand), with disagreements to study."""
    queue = Queue.objects.get(slug="cancellations")
    action = queue.action_types.get()
    people = list(User.objects.filter(username__in=["alice", "bob"]))
    now = timezone.now()
    recs, decisions = [], []
    for day in range(days, 0, -1):
        n = rng.randint(20, 26)
        modified = {rng.randrange(n)} if rng.random() < 0.5 else set()
        for i in range(n):
            decided = (now - timedelta(days=day)).replace(hour=9, minute=0) + timedelta(
                seconds=rng.uniform(0, 8 * 3600)
            )
            wait = rng.expovariate(1 / 1200) + 30
            payload = {"subscription_id": f"S-{day}-{i}", "effective": "end_of_term"}
            rec = Recommendation(
                source=source,
                queue=queue,
                action_type=action,
                external_id=f"demo-cancel-history-{day}-{i}",
                content_hash=content_hash(payload),
                payload=payload,
                confidence=round(rng.uniform(0.7, 0.99), 3),
                risk_score=round(rng.uniform(0.02, 0.5), 3),
                rationale="Demo shadow history",
                model_name=MODELS[2][0],
                model_version=MODELS[2][1],
                prompt_version="cancel-v3",
                route="shadow",
                status="decided",
                created_at=decided - timedelta(seconds=wait),
                updated_at=decided,
                claimed_at=decided - timedelta(seconds=min(wait - 5, rng.uniform(10, 90))),
                closed_at=decided,
            )
            outcome, reason = "approve", ""
            final: dict[str, str] | None = payload
            if i in modified:
                outcome, final = "modify", {**payload, "note": "customer asked for email"}
                reason = "other"
            elif day > 16 and rng.random() < 0.06:
                # Older disagreements, for the readiness page's list to study: the AI
                # cancelled where people offered retention first, or got the date wrong.
                if rng.random() < 0.5:
                    outcome, final, reason = "reject", None, "retention_offer_first"
                else:
                    outcome, reason = "modify", "wrong_effective_date"
                    final = {**payload, "effective": "immediately"}
            recs.append(rec)
            decisions.append(
                _human_decision(rec, outcome, final, reason, decided, rng.choice(people))
            )
    Recommendation.objects.bulk_create(recs, batch_size=1000)
    Decision.objects.bulk_create(decisions, batch_size=1000)
    _history_audit(source, recs, decisions)
    return len(decisions)


def _consensus_history(days: int, rng: random.Random) -> int:
    """The accounts queue's last `days` of history as consensus would have made it: two
    votes on each item. Where alice (a senior) decided, about a third of the time bob and
    carol had disagreed and the item went to her; otherwise carol and the decider agreed
    (the decision is the second vote). So the reports' agreement section has numbers. Demo
    rows written directly (no vote audit events), like the rest of the history; the decisions
    and their audit rows stay as _history wrote them."""
    queue = Queue.objects.get(slug="accounts")
    users = {u.username: u for u in User.objects.filter(username__in=["bob", "carol"])}
    since = timezone.now() - timedelta(days=days)
    decisions = list(
        Decision.objects.filter(queue=queue, kind="human", decided_at__gte=since).select_related(
            "recommendation", "reviewer"
        )
    )
    votes: list[Vote] = []
    escalated: list[Recommendation] = []
    for decision in decisions:
        rec = decision.recommendation
        assert decision.reviewer is not None
        first_at = rec.claimed_at or decision.decided_at - timedelta(seconds=120)

        if decision.reviewer.username == "alice" and rng.random() < 0.35:
            other = "reject" if decision.outcome != "reject" else "approve"
            votes.append(
                _vote(decision, users["bob"], decision.outcome, decision.payload, first_at)
            )
            second_at = decision.decided_at - timedelta(seconds=60)
            votes.append(
                _vote(
                    decision,
                    users["carol"],
                    other,
                    None if other == "reject" else rec.payload,
                    second_at,
                )
            )
            rec.escalated_at = second_at
            escalated.append(rec)
        else:
            votes.append(
                _vote(decision, users["carol"], decision.outcome, decision.payload, first_at)
            )
            votes.append(
                _vote(
                    decision,
                    decision.reviewer,
                    decision.outcome,
                    decision.payload,
                    decision.decided_at,
                )
            )
    Recommendation.objects.filter(pk__in=[d.recommendation_id for d in decisions]).update(
        reviewers_needed=2
    )
    Recommendation.objects.bulk_update(escalated, ["escalated_at"], batch_size=1000)
    Vote.objects.bulk_create(votes, batch_size=1000)
    return len(decisions)


def _vote(decision: Decision, user: User, outcome: str, payload: Any, at: datetime) -> Vote:
    """A demo vote on the decision's item; one that differs from the decision has reason
    `other`."""
    return Vote(
        recommendation=decision.recommendation,
        queue_id=decision.queue_id,
        reviewer=user,
        outcome=outcome,
        payload=payload,
        payload_hash=content_hash(payload) if payload is not None else "",
        reason_code=decision.reason_code if outcome == decision.outcome else "other",
        created_at=at,
    )
