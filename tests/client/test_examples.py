"""The examples in examples/ run as documented, against the live app."""

import pytest

from examples.langgraph_agent import main as langgraph_example
from examples.openai_agents_agent import main as openai_agents_example
from examples.plain_agent import main as plain_example
from reviewqueue.models import Recommendation as RecommendationRow
from tests.client.test_langgraph import in_background

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def example_env(live, monkeypatch, tmp_path):
    monkeypatch.setenv("REVIEWQUEUE_URL", live.url)
    monkeypatch.setenv("REVIEWQUEUE_API_KEY", live.world.key)
    monkeypatch.setenv("REVIEWQUEUE_WAIT_TIMEOUT", "20")
    monkeypatch.setenv("REVIEWQUEUE_ACTION_TYPE", "tool.issue_refund")
    monkeypatch.setenv("REVIEWQUEUE_STATE_DIR", str(tmp_path))
    return tmp_path


def test_plain_example_submits_waits_and_prints_the_decision(live, reviewer, example_env, capsys):
    run = in_background(plain_example.main, ["ticket-77"])
    proposed = reviewer.wait_and_claim()
    assert proposed["external_id"] == "ticket-77:refund" and proposed["priority"] == 100
    reviewer.decide(proposed["id"], "reject", reason_code="policy_violation", comment="No.")
    assert run.result(timeout=30) == 0
    out = capsys.readouterr().out
    assert f"Submitted {proposed['id']} (new), route review" in out
    assert f"{live.url}/queues/refunds/review/" in out
    assert "Decision: reject by human (policy_violation: No.)" in out


def test_langgraph_example_pauses_and_continues_with_the_reviewers_decision(
    live, reviewer, example_env, capsys
):
    run = in_background(langgraph_example.main, ["example-thread"])
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


def test_openai_agents_example_hears_a_rejection_and_keeps_no_state(
    live, reviewer, example_env, capsys
):
    run = in_background(openai_agents_example.main, ["run-5"])
    proposed = reviewer.wait_and_claim()
    assert proposed["external_id"].startswith("oa:run-5:call_")
    assert (example_env / "run-5.json").exists()  # kept while it waits, for a restart
    reviewer.decide(proposed["id"], "reject", reason_code="policy_violation", comment="Too much.")
    assert run.result(timeout=30) == 0
    out = capsys.readouterr().out
    assert "Tool said: policy_violation: Too much." in out
    assert not (example_env / "run-5.json").exists()
    assert RecommendationRow.objects.count() == 1
