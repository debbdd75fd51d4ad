"""Items list benchmark: GET /api/v1/queues/refunds/items at N items in one queue.

Issue 17's speed targets for the list: default sort and each single filter p50 <= 15 ms and
p95 <= 50 ms; text search p95 <= 100 ms; page renders of the list p95 <= 80 ms.

Run it (from the repository root; scripts/bench starts a throwaway PostgreSQL and Redis,
migrates, runs this file and stops everything; extra arguments come here, see --help):

    scripts/bench items                     # 100,000 items
    scripts/bench items --items 1000000     # the issue's size (loading takes minutes)
    scripts/bench items --items 20000 --requests 20   # a quick look

It is a measurement, not a test: not collected by pytest. It exits 0 whenever the run itself
worked, whether the targets are met or not; 1 if a request answered anything but 200.

Set-up (timed, not measured): demo/reviewqueue.toml through apply_config, then `alice`
(reviewer of refunds) and `bob` through create_user, in this process. Then `--items`
recommendations of refunds / refund.issue / support-agent written by the bulk path
(reviewqueue/lib/bulk.bulk_insert, COPY) in batches, with a realistic mix (seeded): 70%
history (decided, auto-approved, expired), 20% pending, 5% escalated, 5% in review; 10% with
a priority from 1 to 5; risk and confidence uniform; five model versions and four prompt
versions, one rare (1%); a due time for 60% (the queue's SLA), some past; 1% assigned to
alice; rationales from a dozen sentences with the order id, amount and customer's name;
payloads with an order id, amount, currency and reason. Then VACUUM ANALYZE.

What it measures: each case `--requests` times after 3 warm-up requests, in this process
through Django's test client with alice's personal token (the whole stack but the socket:
authentication, the queue and membership, parsing, the query, the representation, JSON): the
default sort, every other sort, every single filter, a page far into the list (by its
cursor), and text searches (an external id, a common phrase, a payload value, a rare word,
two characters); then the page /queues/refunds/items/ signed in as alice (whole page, and
the htmx partial a filter change swaps in). Prints a table of p50 / p95 per case, then EXPLAIN (ANALYZE, BUFFERS) of the
list query of the slowest case, then the targets.
"""

import argparse
import logging
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.benchlib import (
    ACTION_TYPE,
    QUEUE,
    ROOT,
    SOURCE,
    BenchError,
    Table,
    checks_table,
    log,
    ms,
    pct,
    pg_settings,
    require_services,
    run_bench,
)

BATCH = 20_000
SENTENCES = [
    "Customer {name} was charged twice for order {order}; refund the duplicate of {amount}.",
    "Order {order} arrived damaged according to {name}'s photos; refund {amount}.",
    "{name} cancelled order {order} within the 14-day window; full refund of {amount}.",
    "Parcel for order {order} is lost in transit; carrier confirmed. Refund {amount} to {name}.",
    "{name} returned order {order}; warehouse scanned the return. Refund {amount}.",
    "Price drop guarantee: {name} paid {amount} more on order {order} than today's price.",
    "Wrong size delivered on order {order}; {name} keeps it at a discount of {amount}.",
    "Subscription renewal on order {order} was not wanted; {name} asked within a day.",
    "Coupon was not applied at checkout for order {order}; {name} is owed {amount}.",
    "Late delivery on order {order}: goodwill refund of {amount} for {name}.",
    "Item missing from order {order}; {name} received 2 of 3 items. Refund {amount}.",
    "Chargeback threatened by {name} on order {order}; policy says refund {amount}.",
]
NAMES = [
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Alan",
    "Barbara",
    "Ken",
    "Radia",
    "Edsger",
    "Frances",
]
REASONS = ["duplicate", "damaged", "cancelled", "lost", "returned", "price", "goodwill"]
MODELS = ["2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01", "2026-11-15-rare"]
PROMPTS = ["refund-v5", "refund-v6", "refund-v7", "refund-v8-rare"]
RARE_WORD = "xylophone"  # in 0.01% of the rationales


def _status(rng: random.Random) -> tuple[str, str]:
    """(status, route) in the run's mix."""
    r = rng.random()
    if r < 0.45:
        return "decided", "review"
    if r < 0.65:
        return "auto_approved", "auto"
    if r < 0.70:
        return "expired", "review"
    if r < 0.90:
        return "pending", "review"
    if r < 0.95:
        return "escalated", "escalated"
    return "in_review", "review"


def load_items(n: int, seed: int) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from reviewqueue.lib.bulk import bulk_insert
    from reviewqueue.models import ActionType, Queue, Recommendation, Source, User

    queue = Queue.objects.get(slug=QUEUE)
    action_type = ActionType.objects.get(name=ACTION_TYPE)
    source = Source.objects.get(name=SOURCE)
    alice = User.objects.get(username="alice")
    rng = random.Random(seed)
    now = timezone.now()
    span = timedelta(days=90).total_seconds()
    picks: dict[str, Any] = {}
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        rows = []
        for i in range(start, min(n, start + BATCH)):
            status, route = _status(rng)
            created = now - timedelta(seconds=span * (1 - i / n) + rng.random())
            order = f"A-{rng.randrange(10**7):07d}"
            amount = round(rng.uniform(5, 500), 2)
            name = rng.choice(NAMES)
            rationale = rng.choice(SENTENCES).format(name=name, order=order, amount=amount)
            if rng.random() < 0.0001:
                rationale += f" Mentions a {RARE_WORD}."
            open_ = status in ("pending", "escalated", "in_review")
            due = created + timedelta(hours=4) if rng.random() < 0.6 else None
            rec = Recommendation(
                source=source,
                queue=queue,
                action_type=action_type,
                external_id=f"ticket-{i:07d}:refund",
                content_hash="0" * 64,
                payload={"order_id": order, "amount": amount, "currency": "EUR",
                         "reason": rng.choice(REASONS)},
                confidence=rng.random(),
                risk_score=rng.random(),
                rationale=rationale,
                evidence=[{"title": f"Order {order}", "url": f"https://crm.example/{order}"}],
                model_name="refund-agent",
                model_version=MODELS[4] if rng.random() < 0.01 else rng.choice(MODELS[:4]),
                prompt_version=PROMPTS[3] if rng.random() < 0.01 else rng.choice(PROMPTS[:3]),
                priority=rng.randint(1, 5) if rng.random() < 0.1 else 0,
                metadata={"customer": name},
                route=route,
                status=status,
                created_at=created,
                updated_at=created,
                due_at=due,
                claimed_by=alice if status == "in_review" else None,
                assigned_to=alice if open_ and rng.random() < 0.05 else None,
                closed_at=None if open_ else created + timedelta(minutes=30),
                flags=[],
            )  # fmt: skip
            rows.append(rec)
            if i == n // 2:
                picks["external_id"] = rec.external_id
                picks["order"] = order
        bulk_insert(Recommendation, rows)
        log(f"  {min(n, start + BATCH):,} / {n:,} items ({time.perf_counter() - started:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reviewqueue_recommendation")
    return picks


def cases(picks: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(kind, label, query parameters): kind "list" or "search" (their targets differ), or
    "info" (measured, no target)."""
    list_cases: list[tuple[str, dict[str, str]]] = [
        ("default sort (priority)", {}),
        ("sort=-created_at", {"sort": "-created_at"}),
        ("sort=created_at", {"sort": "created_at"}),
        ("sort=risk_score", {"sort": "risk_score"}),
        ("sort=-risk_score", {"sort": "-risk_score"}),
        ("sort=due_at", {"sort": "due_at"}),
        ("status=pending", {"status": "pending"}),
        ("status=decided", {"status": "decided"}),
        ("status=escalated", {"status": "escalated"}),
        ("route=auto", {"route": "auto"}),
        ("risk_min=0.95", {"risk_min": "0.95"}),
        ("risk_max=0.05", {"risk_max": "0.05"}),
        ("confidence_min=0.95", {"confidence_min": "0.95"}),
        ("confidence_max=0.05", {"confidence_max": "0.05"}),
        ("model_version (1%)", {"model_version": MODELS[4]}),
        ("model_version (25%)", {"model_version": MODELS[0]}),
        ("prompt_version (1%)", {"prompt_version": PROMPTS[3]}),
        ("overdue=true", {"overdue": "true"}),
        ("assigned_to=me", {"assigned_to": "me"}),
    ]
    search_cases: list[tuple[str, dict[str, str]]] = [
        ("q=<an external id>", {"q": picks["external_id"]}),
        ("q=<an order id>", {"q": picks["order"]}),
        ("q=charged twice", {"q": "charged twice"}),
        (f"q={RARE_WORD} (0.01%)", {"q": RARE_WORD}),
        ("q=nothing-matches", {"q": "nothing-matches-this"}),
        ("q=ti (prefix)", {"q": "ti"}),
        ("q=charged + status=pending", {"q": "charged twice", "status": "pending"}),
    ]
    # Four times the items: the representation and JSON, not the query, grow with it.
    info = [("info", "limit=200 (not a target: 4x the items)", {"limit": "200"})]
    return (
        [("list", label, p) for label, p in list_cases]
        + [("search", label, p) for label, p in search_cases]
        + info
    )


PAGE_CASES: list[tuple[str, dict[str, str], dict[str, str]]] = [
    # (label, query parameters, headers): the page as a browser first opens it, and as htmx
    # swaps the table after a filter change (the partial), each with the last filters saved.
    ("page: default sort", {}, {}),
    ("page: status=pending, risk_max=0.3", {"status": "pending", "risk_max": "0.3"}, {}),
    ("page: q=charged twice", {"q": "charged twice"}, {}),
    ("page (htmx partial): status=escalated", {"status": "escalated"}, {"HX-Request": "true"}),
]


def measure(
    client: Any,
    params: dict[str, str],
    requests: int,
    url: str = f"/api/v1/queues/{QUEUE}/items",
    headers: dict[str, str] | None = None,
) -> list[float]:
    times = []
    for i in range(requests + 3):
        t0 = time.perf_counter()
        response = client.get(url, params, headers=headers or {})
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise BenchError(f"{params}: {response.status_code} {response.content[:300]!r}")
        if i >= 3:
            times.append(elapsed)
    return times


def deep_cursor(client: Any, pages: int) -> dict[str, str]:
    """The query of the page after `pages` pages of 200 into the default sort."""
    from urllib.parse import parse_qsl, urlparse

    response = client.get(f"/api/v1/queues/{QUEUE}/items", {"limit": "200"})
    for _ in range(pages - 1):
        response = client.get(response.json()["next"])
    # The cursor holds no limit: the deep page is asked with the default one.
    return {**dict(parse_qsl(urlparse(response.json()["next"]).query)), "limit": "50"}


def explain(client: Any, params: dict[str, str]) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(f"/api/v1/queues/{QUEUE}/items", params)
    sql = max(
        (q["sql"] for q in captured.captured_queries if "reviewqueue_recommendation" in q["sql"]),
        key=len,
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return f"{sql}\n\n{plan}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="per case, after 3 warm-ups")
    parser.add_argument("--seed", type=int, default=17)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    require_services("items", broker=False)
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("REVIEWQUEUE_PASSWORD", "bench-password-items")
    # The demo's webhooks and callbacks point at 127.0.0.1:9100 (nothing is sent here).
    os.environ.setdefault("REVIEWQUEUE_OUTBOUND_ALLOWLIST", "127.0.0.1:9100")
    os.environ.setdefault("DEMO_WEBHOOK_SECRET", "bench")
    os.chdir(ROOT)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from reviewqueue.models import Queue, User
    from reviewqueue.services.audit import Actor
    from reviewqueue.services.tokens import personal_token_create

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    logging.getLogger("django_structlog").setLevel(logging.WARNING)  # a line per request
    log("create_user alice and bob, apply_config demo/reviewqueue.toml")
    call_command("create_user", "alice", "--role", "reviewer")
    call_command("create_user", "bob", "--role", "senior")
    call_command("apply_config", str(ROOT / "demo" / "reviewqueue.toml"), verbosity=0)
    log(f"loading {args.items:,} items of {QUEUE} (lib/bulk.bulk_insert, COPY)")
    t0 = time.perf_counter()
    picks = load_items(args.items, args.seed)
    log(f"loaded in {time.perf_counter() - t0:.0f} s")
    alice = User.objects.get(username="alice")
    _, token = personal_token_create(user=alice, actor=Actor.system("bench"))
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")

    table = Table(["case", "p50 ms", "p95 ms", "max ms", "items"])
    results: list[tuple[str, str, dict[str, str], float, float]] = []
    all_cases = cases(picks)
    all_cases.insert(1, ("list", "page after 10,000 items (cursor)", deep_cursor(client, 50)))
    for kind, label, params in all_cases:
        times = measure(client, params, args.requests)
        count = len(client.get(f"/api/v1/queues/{QUEUE}/items", params).json()["results"])
        p50, p95 = pct(times, 50), pct(times, 95)
        table.add(label, ms(p50), ms(p95), ms(max(times)), str(count))
        results.append((kind, label, params, p50, p95))
        log(f"{label}: p50 {ms(p50)} ms, p95 {ms(p95)} ms")

    browser = Client()
    browser.force_login(alice)
    page_table = Table(["page", "p50 ms", "p95 ms", "max ms"])
    pages: list[tuple[str, float, float]] = []
    for label, params, headers in PAGE_CASES:
        times = measure(browser, params, args.requests, f"/queues/{QUEUE}/items/", headers)
        p50, p95 = pct(times, 50), pct(times, 95)
        page_table.add(label, ms(p50), ms(p95), ms(max(times)))
        pages.append((label, p50, p95))
        log(f"{label}: p50 {ms(p50)} ms, p95 {ms(p95)} ms")

    queue = Queue.objects.get(slug=QUEUE)
    print(f"\nItems list at {args.items:,} items in queue {queue.slug}; {args.requests} requests")
    print("per case after 3 warm-ups; in-process (Django test client), alice's token.")
    print(pg_settings(connection.connection))
    print()
    print(table.render())
    print("\nThe page /queues/refunds/items/ (alice signed in; server-side render, 50 rows):\n")
    print(page_table.render())
    slowest = max((r for r in results if r[0] != "info"), key=lambda r: r[4])
    print(f"\nSlowest by p95: {slowest[1]} ({ms(slowest[4])} ms). EXPLAIN (ANALYZE, BUFFERS):\n")
    print(explain(client, slowest[2]))
    lists = [r for r in results if r[0] == "list"]
    searches = [r for r in results if r[0] == "search"]
    worst_list_p50 = max(lists, key=lambda r: r[3])
    worst_list_p95 = max(lists, key=lambda r: r[4])
    worst_search = max(searches, key=lambda r: r[4])
    worst_page = max(pages, key=lambda r: r[2])
    print()
    print(
        checks_table(
            [
                ("list p50 (worst case)", f"{ms(worst_list_p50[3])} ({worst_list_p50[1]})", "<= 15 ms", worst_list_p50[3] <= 15),
                ("list p95 (worst case)", f"{ms(worst_list_p95[4])} ({worst_list_p95[1]})", "<= 50 ms", worst_list_p95[4] <= 50),
                ("search p95 (worst case)", f"{ms(worst_search[4])} ({worst_search[1]})", "<= 100 ms", worst_search[4] <= 100),
                ("page render p95 (worst case)", f"{ms(worst_page[2])} ({worst_page[0]})", "<= 80 ms", worst_page[2] <= 80),
            ]
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    run_bench(main, "bench_items")
