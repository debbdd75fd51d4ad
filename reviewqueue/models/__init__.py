from reviewqueue.models.audit import AuditChainHead, AuditEvent
from reviewqueue.models.autonomy import AnomalyBaseline, QaReview, StageChange
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
from reviewqueue.models.incidents import Incident, IncidentSeverity
from reviewqueue.models.metrics import MetricsBucket
from reviewqueue.models.notifications import Notification, NotificationPreference
from reviewqueue.models.preferences import SavedView
from reviewqueue.models.ratelimit import RateLimitWindow
from reviewqueue.models.recommendations import Decision, Recommendation, UndoneDecision, Vote

__all__ = [
    "ActionType",
    "AnomalyBaseline",
    "ApiKey",
    "AuditChainHead",
    "AuditEvent",
    "CallbackDelivery",
    "Decision",
    "Execution",
    "ExecutionAttempt",
    "Incident",
    "IncidentSeverity",
    "Membership",
    "MetricsBucket",
    "Notification",
    "NotificationPreference",
    "PersonalToken",
    "QaReview",
    "Queue",
    "QueueActionType",
    "RateLimitWindow",
    "Recommendation",
    "SavedView",
    "Source",
    "SourceQueue",
    "StageChange",
    "UndoneDecision",
    "User",
    "Vote",
]
