from reviewqueue.models.audit import AuditEvent
from reviewqueue.models.config import (
    ActionType,
    ApiKey,
    Membership,
    PersonalToken,
    Queue,
    QueueActionType,
    Source,
    SourceQueue,
    User,
)
from reviewqueue.models.executions import CallbackDelivery, Execution, ExecutionAttempt
from reviewqueue.models.recommendations import Decision, Recommendation

__all__ = [
    "ActionType",
    "ApiKey",
    "AuditEvent",
    "CallbackDelivery",
    "Decision",
    "Execution",
    "ExecutionAttempt",
    "Membership",
    "PersonalToken",
    "Queue",
    "QueueActionType",
    "Recommendation",
    "Source",
    "SourceQueue",
    "User",
]
