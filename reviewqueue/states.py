"""Statuses, routes, stages and the one table of legal moves. Pure Python."""

from enum import StrEnum


class Stage(StrEnum):
    SHADOW = "shadow"
    APPROVAL = "approval"
    SUPERVISED = "supervised"
    AUTONOMOUS = "autonomous"


class Route(StrEnum):
    REVIEW = "review"
    AUTO = "auto"
    ESCALATED = "escalated"
    SHADOW = "shadow"


class Status(StrEnum):
    SHADOW = "shadow"  # recorded; waits for the human outcome; never executes
    PENDING = "pending"  # waiting for a reviewer
    IN_REVIEW = "in_review"  # claimed under a lease
    ESCALATED = "escalated"  # waiting for a senior reviewer
    DECIDED = "decided"  # a person decided (approve, modify or reject)
    AUTO_APPROVED = "auto_approved"  # the policy approved it on arrival
    EXPIRED = "expired"  # past expires_at before anyone approved it


class Outcome(StrEnum):
    APPROVE = "approve"
    MODIFY = "modify"
    REJECT = "reject"


class DecisionKind(StrEnum):
    HUMAN = "human"  # a reviewer in the app
    POLICY = "policy"  # routing auto-approved it
    EXTERNAL = "external"  # the source reported the human outcome (shadow)


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    REFUSED = "refused"  # the stored payload no longer matches the decision's hash


class Role(StrEnum):
    REVIEWER = "reviewer"
    SENIOR = "senior"
    ADMIN = "admin"
    AUDITOR = "auditor"


class MemberRole(StrEnum):
    REVIEWER = "reviewer"
    SENIOR = "senior"


# Legal moves of a recommendation: (from, to). services/transitions.py checks every move here.
RECOMMENDATION_MOVES: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.PENDING, Status.IN_REVIEW),  # claim
        (Status.ESCALATED, Status.IN_REVIEW),  # senior claims an escalated item
        (Status.IN_REVIEW, Status.PENDING),  # release / lease expiry
        (Status.IN_REVIEW, Status.ESCALATED),  # escalate, or release of an escalated item
        (Status.PENDING, Status.ESCALATED),  # SLA auto-escalation
        (Status.IN_REVIEW, Status.DECIDED),  # decide
        (Status.PENDING, Status.EXPIRED),
        (Status.IN_REVIEW, Status.EXPIRED),
        (Status.ESCALATED, Status.EXPIRED),
        (Status.SHADOW, Status.DECIDED),  # human outcome reported for a shadow item
        (Status.SHADOW, Status.IN_REVIEW),  # a blind review claims a shadow item
        (Status.IN_REVIEW, Status.SHADOW),  # blind review released / its lease expired
        (Status.DECIDED, Status.IN_REVIEW),  # undo: back to the person who decided
    }
)

OPEN_STATUSES = frozenset({Status.PENDING, Status.IN_REVIEW, Status.ESCALATED})

# Legal moves of an execution; services/execution.py checks its moves with
# transitions.require_execution_legal.
EXECUTION_MOVES: frozenset[tuple[ExecutionStatus, ExecutionStatus]] = frozenset(
    {
        (ExecutionStatus.PENDING, ExecutionStatus.RUNNING),
        (ExecutionStatus.RETRYING, ExecutionStatus.RUNNING),
        (ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED),
        (ExecutionStatus.RUNNING, ExecutionStatus.RETRYING),
        (ExecutionStatus.RUNNING, ExecutionStatus.DEAD),
        (ExecutionStatus.RUNNING, ExecutionStatus.REFUSED),
        (ExecutionStatus.RUNNING, ExecutionStatus.RUNNING),  # a lost attempt's lease taken over
        (ExecutionStatus.DEAD, ExecutionStatus.PENDING),  # an admin retries
        (ExecutionStatus.REFUSED, ExecutionStatus.PENDING),  # an admin retries
    }
)


class QaVerdict(StrEnum):
    CORRECT = "correct"
    INCORRECT = "incorrect"


# Stages in order. An admin advances a queue one step at a time and may demote it to any
# lower stage at any time; nothing moves a queue up automatically (the breaker only demotes).
STAGE_ORDER: tuple[Stage, ...] = (Stage.SHADOW, Stage.APPROVAL, Stage.SUPERVISED, Stage.AUTONOMOUS)


def stage_move_is_legal(current: Stage, target: Stage) -> bool:
    """Up exactly one step, or down any number of steps; never to the same stage."""
    here, there = STAGE_ORDER.index(current), STAGE_ORDER.index(target)
    return there == here + 1 or there < here


def is_legal(current: Status, target: Status) -> bool:
    return (current, target) in RECOMMENDATION_MOVES


class FlagKind(StrEnum):
    """Why an item waits for people although its stage would have let it execute."""

    RISK_CEILING = "risk_ceiling"  # risk at or above the queue's hard_risk_ceiling
    CONFIDENCE_FLOOR = "confidence_floor"  # confidence below hard_confidence_floor
    OUTLIER = "outlier"  # a payload number far from its action type's recent values
    VOLUME = "volume"  # the source sent more than max_per_5min in the last 5 minutes
