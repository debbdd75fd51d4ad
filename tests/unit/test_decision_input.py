"""The one decision-input check: the same rules for the three ways a decision arrives, and
the differences only where its tables say so."""

import pytest

from reviewqueue.domain.decision_input import Mode, Target, decision_check
from reviewqueue.exceptions import ValidationFailed

TARGET = Target(
    proposal={"order_id": "A-1", "amount": 40.0, "note": "hi"},
    payload_schema={
        "type": "object",
        "required": ["order_id", "amount"],
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
    },
    reason_codes=["wrong_amount", "other"],
    cosmetic_fields=["note"],
)


def check(mode, outcome, payload=None, reason_code="", comment=""):
    return decision_check(
        TARGET,
        mode=mode,
        outcome=outcome,
        payload=payload,
        reason_code=reason_code,
        comment=comment,
    )


def errors_of(*args, **kwargs) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        check(*args, **kwargs)
    return caught.value.errors or {}


@pytest.mark.parametrize("mode", list(Mode))
def test_unknown_outcomes_and_reason_codes_are_refused_in_every_mode(mode):
    assert errors_of(mode, "maybe") == {"outcome": "Must be approve, modify or reject."}
    assert errors_of(mode, "reject", reason_code="nope") == {
        "reason_code": "Must be one of: wrong_amount, other."
    }
    assert "comment" in errors_of(mode, "reject", reason_code="other", comment="x" * 5001)


def test_a_reviewer_needs_a_reason_to_modify_a_source_reporting_elsewhere_does_not():
    edited = {"order_id": "A-1", "amount": 30.0}
    assert errors_of(Mode.REVIEW, "modify", payload=edited) == {
        "reason_code": "A reason code is required to modify."
    }
    reported = check(Mode.EXTERNAL, "modify", payload=edited)
    assert reported.outcome == "modify" and reported.payload == edited
    assert [c["path"] for c in reported.diff] == ["amount", "note"]


def test_modify_must_pass_the_schema_and_change_something():
    assert errors_of(
        Mode.REVIEW, "modify", payload={"order_id": 5, "amount": 1}, reason_code="other"
    )
    assert errors_of(Mode.REVIEW, "modify", payload=dict(TARGET.proposal), reason_code="other") == {
        "payload": "The edited payload is the same as the original; approve it instead."
    }
    assert errors_of(Mode.EXTERNAL, "modify", payload=dict(TARGET.proposal)) == {
        "payload": "The payload is the same as the proposal; report approve."
    }


def test_approve_takes_the_proposal_as_it_is():
    assert check(Mode.REVIEW, "approve").payload == TARGET.proposal
    assert errors_of(Mode.REVIEW, "approve", payload={"order_id": "B", "amount": 1}) == {
        "payload": "Approve takes the payload as proposed; use modify to change it."
    }


def test_a_blind_answer_is_compared_with_the_proposal_it_never_saw():
    same = check(Mode.BLIND, "modify", payload=dict(TARGET.proposal))
    assert (same.outcome, same.agreed) == ("approve", True)
    cosmetic = check(Mode.BLIND, "approve", payload={**TARGET.proposal, "note": "hello"})
    assert (cosmetic.outcome, cosmetic.agreed, cosmetic.is_cosmetic) == ("modify", True, True)
    different = check(Mode.BLIND, "approve", payload={**TARGET.proposal, "amount": 1.0})
    assert (different.outcome, different.agreed) == ("modify", False)
    assert errors_of(Mode.BLIND, "approve") == {
        "payload": "A blind review needs the payload you would use (an object)."
    }
    assert errors_of(Mode.BLIND, "reject") == {
        "reason_code": "A reason code is required to reject."
    }
    assert check(Mode.BLIND, "reject", reason_code="other").agreed is False
