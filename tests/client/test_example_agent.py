"""The copyable example (tests/client/example_agent.py) runs as documented."""

import pytest

from tests.client import example_agent
from tests.client.test_langgraph import in_background

pytestmark = pytest.mark.django_db(transaction=True)


def test_example_agent_pauses_and_continues_with_the_reviewers_decision(
    live, reviewer, monkeypatch, capsys
):
    monkeypatch.setenv("REVIEWQUEUE_URL", live.url)
    monkeypatch.setenv("REVIEWQUEUE_API_KEY", live.world.key)
    monkeypatch.setenv("REVIEWQUEUE_WAIT_TIMEOUT", "20")
    monkeypatch.setenv("REVIEWQUEUE_ACTION_TYPE", "tool.issue_refund")
    run = in_background(example_agent.main, ["example-thread"])
    proposed = reviewer.wait_and_claim()
    assert proposed["action"]["type"] == "tool.issue_refund"
    assert proposed["priority"] == 100  # a live agent waits: it goes ahead of the backlog
    reviewer.decide(
        proposed["id"], "modify", payload={"order_id": "A-1", "amount": 25.0}, reason_code="other"
    )
    assert run.result(timeout=30) == 0
    out = capsys.readouterr().out
    assert f"{live.url}/queues/refunds/review/" in out
    assert "Refunded 25.0 on order A-1." in out
