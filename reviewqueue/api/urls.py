from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from reviewqueue.api import autonomy, ingest, reports, review

urlpatterns = [
    path("recommendations", ingest.RecommendationCollection.as_view(), name="api-recommendations"),
    path("recommendations/batch", ingest.RecommendationBatch.as_view(), name="api-batch"),
    path("queues/<slug:slug>/claim", review.QueueClaim.as_view(), name="api-claim"),
    path("queues/<slug:slug>/stage", autonomy.QueueStage.as_view(), name="api-queue-stage"),
    path(
        "recommendations/<str:recommendation_id>/qa",
        autonomy.RecommendationQa.as_view(),
        name="api-qa",
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
    path("exports/decisions.jsonl", reports.DecisionsExport.as_view(), name="api-export-decisions"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
