from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from reviewqueue.api import ingest

urlpatterns = [
    path("recommendations", ingest.RecommendationCollection.as_view(), name="api-recommendations"),
    path("recommendations/batch", ingest.RecommendationBatch.as_view(), name="api-batch"),
    path(
        "recommendations/<str:recommendation_id>",
        ingest.RecommendationDetail.as_view(),
        name="api-recommendation",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
