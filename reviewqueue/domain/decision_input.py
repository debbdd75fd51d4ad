"""The one check of a decision's input, for every way a person's decision arrives.

- `REVIEW`: a reviewer decides an item they hold (the API, the review page, bulk).
- `BLIND`: a reviewer decides a shadow item without seeing the proposal; they answer with the
  payload they would use and this check decides approve or modify by comparing it with the
  proposal they never saw.
- `EXTERNAL`: a source reports what people decided outside the app (shadow human-outcome).

The rules are the same in all three except where a table below says otherwise, so a change of
rule is made once. The input's shape (types of the JSON body, form fields) is checked before,
by the API contract or the form; this decides whether the decision is acceptable for the item.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reviewqueue.domain import reasons
from reviewqueue.exceptions import ValidationFailed
from reviewqueue.lib.diff import is_cosmetic, json_diff
from reviewqueue.lib.schema import errors_by_path, validator_for
from reviewqueue.states import Outcome

COMMENT_MAX = 5000


class Mode(StrEnum):
    REVIEW = "review"
    BLIND = "blind"
    EXTERNAL = "external"


# Which outcomes need a reason code. A source reporting outcomes from elsewhere may have none.
REASON_REQUIRED: dict[Mode, frozenset[Outcome]] = {
    Mode.REVIEW: frozenset({Outcome.REJECT, Outcome.MODIFY}),
    Mode.BLIND: frozenset({Outcome.REJECT}),
    Mode.EXTERNAL: frozenset(),
}
# Which outcomes carry a payload of the caller's (checked against the action type's schema).
PAYLOAD_REQUIRED: dict[Mode, frozenset[Outcome]] = {
    Mode.REVIEW: frozenset({Outcome.MODIFY}),
    Mode.BLIND: frozenset({Outcome.APPROVE, Outcome.MODIFY}),
    Mode.EXTERNAL: frozenset({Outcome.MODIFY}),
}
_NEEDS_PAYLOAD = {
    Mode.REVIEW: "Modify needs the edited payload (an object).",
    Mode.BLIND: "A blind review needs the payload you would use (an object).",
    Mode.EXTERNAL: "Modify needs the payload people actually used (an object).",
}
_SAME_PAYLOAD = {
    Mode.REVIEW: "The edited payload is the same as the original; approve it instead.",
    Mode.EXTERNAL: "The payload is the same as the proposal; report approve.",
}
_TITLE = {
    Mode.REVIEW: "The decision is not valid.",
    Mode.BLIND: "The blind review is not valid.",
    Mode.EXTERNAL: "The outcome is not valid.",
}


@dataclass(frozen=True)
class Target:
    """What the check needs of the item: its proposal and its queue's and type's rules."""

    proposal: Any
    payload_schema: dict[str, Any]
    reason_codes: list[str]
    cosmetic_fields: list[str]

    @classmethod
    def of(cls, rec: Any) -> "Target":
        """From a Recommendation with its queue and action type loaded."""
        return cls(
            proposal=rec.payload,
            payload_schema=rec.action_type.payload_schema,
            reason_codes=reasons.codes(rec.queue.reason_codes),
            cosmetic_fields=rec.action_type.cosmetic_fields,
        )


@dataclass(frozen=True)
class CheckedDecision:
    outcome: Outcome
    payload: Any  # the final payload (None for reject)
    diff: list[dict[str, Any]]
    is_cosmetic: bool | None
    agreed: bool | None  # blind review: did the reviewer's answer match the proposal


def decision_check(
    target: Target, *, mode: Mode, outcome: Any, payload: Any, reason_code: Any, comment: Any
) -> CheckedDecision:
    """The decision as it will be stored, or ValidationFailed (400) naming every field that
    is wrong at once."""
    if outcome not in tuple(Outcome):
        raise ValidationFailed(
            "Unknown outcome.", errors={"outcome": "Must be approve, modify or reject."}
        )
    outcome = Outcome(outcome)
    reason_code = reason_code or ""
    errors: dict[str, str] = {}
    if not isinstance(comment, str) or len(comment) > COMMENT_MAX:
        errors["comment"] = f"Must be text of at most {COMMENT_MAX} characters."
    if not reason_code and outcome in REASON_REQUIRED[mode]:
        errors["reason_code"] = f"A reason code is required to {outcome}."
    elif reason_code and reason_code not in target.reason_codes:
        errors["reason_code"] = "Must be one of: " + ", ".join(target.reason_codes) + "."
    changes: list[dict[str, Any]] = []
    if outcome in PAYLOAD_REQUIRED[mode]:
        if not isinstance(payload, dict):
            errors["payload"] = _NEEDS_PAYLOAD[mode]
        else:
            schema_errors = errors_by_path(validator_for(target.payload_schema), payload, "payload")
            errors.update(schema_errors)
            changes = json_diff(target.proposal, payload)
            if mode in _SAME_PAYLOAD and not schema_errors and not changes:
                errors["payload"] = _SAME_PAYLOAD[mode]
    elif mode == Mode.REVIEW and outcome == Outcome.APPROVE and payload is not None:  # noqa: SIM102
        if json_diff(target.proposal, payload):  # given, and not the proposal
            errors["payload"] = "Approve takes the payload as proposed; use modify to change it."
    if errors:
        raise ValidationFailed(_TITLE[mode], errors=errors)
    if outcome == Outcome.REJECT:
        return CheckedDecision(
            outcome, None, [], None, agreed=False if mode == Mode.BLIND else None
        )
    if mode == Mode.BLIND and not changes:
        return CheckedDecision(Outcome.APPROVE, target.proposal, [], None, agreed=True)
    if outcome == Outcome.APPROVE and mode != Mode.BLIND:
        return CheckedDecision(outcome, target.proposal, [], None, agreed=None)
    cosmetic = is_cosmetic(changes, target.cosmetic_fields)
    agreed = cosmetic if mode == Mode.BLIND else None
    return CheckedDecision(Outcome.MODIFY, payload, changes, cosmetic, agreed=agreed)
