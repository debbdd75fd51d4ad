"""A plain Python agent that asks Review Queue before it refunds, and waits for the answer.

    uv run python -m examples.plain_agent          # against scripts/run's demo

It submits one refund to the `refunds` queue, prints where to review it, waits until a
person decides (approve, modify or reject in the browser, or `examples/decide.py`), and
prints the decision and what Review Queue did with it. The demo's `refund.issue` action
type is carried out by Review Queue itself (a signed webhook to the demo target), so the
agent only reports.

Settings (environment): REVIEWQUEUE_URL (default http://127.0.0.1:8000),
REVIEWQUEUE_API_KEY (default: the demo key in var/demo-api-key), REVIEWQUEUE_QUEUE (refunds),
REVIEWQUEUE_ACTION_TYPE (refund.issue), REVIEWQUEUE_WAIT_TIMEOUT (seconds, 3600).
"""

import os
import sys
import time
import uuid
from pathlib import Path

from reviewqueue_client import ReviewQueueClient, ValidationError


def api_key() -> str:
    key = os.environ.get("REVIEWQUEUE_API_KEY")
    demo = Path(__file__).resolve().parents[2] / "var" / "demo-api-key"
    if not key and demo.exists():
        key = demo.read_text().strip()
    if not key:
        sys.exit("Set REVIEWQUEUE_API_KEY (python manage.py create_api_key SOURCE_NAME).")
    return key


def main(argv: list[str] | None = None) -> int:
    url = os.environ.get("REVIEWQUEUE_URL", "http://127.0.0.1:8000").rstrip("/")
    queue = os.environ.get("REVIEWQUEUE_QUEUE", "refunds")
    ticket = (argv or sys.argv[1:] or [f"ticket-{uuid.uuid4().hex[:8]}"])[0]
    timeout = float(os.environ.get("REVIEWQUEUE_WAIT_TIMEOUT", "3600"))

    with ReviewQueueClient(url, api_key=api_key()) as rq:
        try:
            item = rq.submit(
                queue,
                f"{ticket}:refund",  # idempotent: running it again finds the same item
                os.environ.get("REVIEWQUEUE_ACTION_TYPE", "refund.issue"),
                {"order_id": "A-1", "amount": 40.0},
                confidence=0.91,
                risk_score=0.42,
                model=("plain-agent", "1"),
                rationale="Order A-1 was charged twice (40.00); refund the duplicate.",
                evidence=[{"title": "Order A-1", "url": "https://crm.example/orders/A-1"}],
                priority=100,  # an agent waits live: ahead of the backlog
            )
        except ValidationError as exc:  # the problem+json's field errors
            sys.exit(f"Refused: {exc.errors}")
        print(
            f"Submitted {item.id} ({'new' if item.created else 'already there'}), route {item.route}"
        )
        print(f"Waiting for a reviewer: {url}/queues/{queue}/review/", flush=True)
        done = rq.wait_for_decision(item.id, timeout=timeout)
        decision = done.decision
        if decision is None:
            print(f"Closed without a decision: {done.status}")
            return 0
        why = ": ".join(p for p in (decision.reason_code, decision.comment) if p)
        print(f"Decision: {decision.outcome} by {decision.kind}" + (f" ({why})" if why else ""))
        if decision.outcome == "modify":
            print(f"Reviewer's payload: {decision.payload}")
        # Review Queue carries out an approved action itself; give it a moment to report.
        deadline = time.monotonic() + 10
        while done.execution is not None and done.execution.status in (
            "pending",
            "running",
            "retrying",
        ):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
            done = rq.get(item.id)
        if done.execution is not None:
            print(f"Execution: {done.execution.status} after {done.execution.attempts} attempt(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
