from django.conf import settings
from django.urls import path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from reviewqueue.api import autonomy, ingest, items, reports, review

# Swagger UI sets inline style attributes; its page alone may use them. Its start-up script
# is served from our origin (the split view), so script-src stays strict.
_DOCS_CSP: dict[str, list[str]] = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
}
_docs = csp_override(_DOCS_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

urlpatterns = [
    path("recommendations", ingest.RecommendationCollection.as_view(), name="api-recommendations"),
    path("recommendations/batch", ingest.RecommendationBatch.as_view(), name="api-batch"),
    path("queues/<slug:slug>/claim", review.QueueClaim.as_view(), name="api-claim"),
    path(
        "queues/<slug:slug>/bulk-decision",
        review.QueueBulkDecision.as_view(),
        name="api-bulk-decision",
    ),
    # The items list (issue 17 #1).
    path("queues/<slug:slug>/items", items.QueueItems.as_view(), name="api-queue-items"),
    path("queues/<slug:slug>/stage", autonomy.QueueStage.as_view(), name="api-queue-stage"),
    path("queues/<slug:slug>/incidents", autonomy.QueueIncidents.as_view(), name="api-incidents"),
    path(
        "queues/<slug:slug>/incidents/<int:incident_id>/resolve",
        autonomy.QueueIncidentResolve.as_view(),
        name="api-incident-resolve",
    ),
    path(
        "recommendations/<str:recommendation_id>/qa",
        autonomy.RecommendationQa.as_view(),
        name="api-qa",
    ),
    path(
        "recommendations/<str:recommendation_id>/claim",
        review.RecommendationClaim.as_view(),
        name="api-claim-chosen",
    ),
    path(
        "recommendations/<str:recommendation_id>/undo",
        review.RecommendationUndo.as_view(),
        name="api-undo",
    ),
    path(
        "recommendations/<str:recommendation_id>/assign",
        review.RecommendationAssign.as_view(),
        name="api-assign",
    ),
    path(
        "recommendations/<str:recommendation_id>/release",
        review.RecommendationRelease.as_view(),
        name="api-release",
    ),
    path(
        "recommendations/<str:recommendation_id>/decision",
        review.RecommendationDecision.as_view(),
        name="api-decision",
    ),
    path(
        "recommendations/<str:recommendation_id>/human-outcome",
        ingest.RecommendationHumanOutcome.as_view(),
        name="api-human-outcome",
    ),
    path(
        "recommendations/<str:recommendation_id>/escalate",
        review.RecommendationEscalate.as_view(),
        name="api-escalate",
    ),
    path(
        "recommendations/<str:recommendation_id>",
        ingest.RecommendationDetail.as_view(),
        name="api-recommendation",
    ),
    path("metrics/trend", reports.MetricsTrend.as_view(), name="api-metrics-trend"),
    path("metrics/reasons", reports.MetricsReasons.as_view(), name="api-metrics-reasons"),
    path("metrics/agreement", reports.MetricsAgreement.as_view(), name="api-metrics-agreement"),
    path("exports/decisions.jsonl", reports.DecisionsExport.as_view(), name="api-export-decisions"),
    path("exports/audit.jsonl", reports.AuditExport.as_view(), name="api-export-audit"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", _docs, name="api-docs"),
]
