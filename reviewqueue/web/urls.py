from django.contrib.auth import views as auth_views
from django.urls import path

from reviewqueue.web import (
    account,
    auth,
    executions,
    items,
    pages,
    queues,
    recommendations,
    reports,
    review,
    stages,
)

urlpatterns = [
    path("", pages.home, name="home"),
    path("login/", auth.login, name="login"),  # failed attempts throttled
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("queues/", queues.queue_list, name="queues"),
    path("queues/<slug:slug>/", stages.queue_page, name="queue"),
    path("queues/<slug:slug>/stage", stages.queue_stage, name="queue-stage"),
    # The items list and its saved views (issue 17 #1).
    path("queues/<slug:slug>/items/", items.items_list, name="queue-items"),
    path("queues/<slug:slug>/items/views", items.view_save, name="queue-items-view-save"),
    path("queues/<slug:slug>/items/bulk", items.items_bulk, name="queue-items-bulk"),
    path(
        "queues/<slug:slug>/items/views/<int:view_id>/delete",
        items.view_delete,
        name="queue-items-view-delete",
    ),
    path("queues/<slug:slug>/qa/", stages.qa_page, name="queue-qa"),
    path(
        "queues/<slug:slug>/qa/<uuid:recommendation_id>", stages.qa_verdict, name="queue-qa-verdict"
    ),
    path("queues/<slug:slug>/resume", stages.queue_resume, name="queue-resume"),
    path("queues/<slug:slug>/incidents/", stages.incidents_page, name="queue-incidents"),
    path(
        "queues/<slug:slug>/incidents/<int:incident_id>/resolve",
        stages.incident_resolve_view,
        name="queue-incident-resolve",
    ),
    path("executions/dead/", executions.dead_list, name="executions-dead"),
    path("executions/<int:execution_id>/retry", executions.retry, name="execution-retry"),
    path("queues/<slug:slug>/review/", review.review_page, name="review"),  # GET: reads only
    path("queues/<slug:slug>/review/claim", review.claim, name="review-claim"),
    path(
        "queues/<slug:slug>/review/<uuid:recommendation_id>/undo",
        review.undo,
        name="review-undo",
    ),
    path(
        "queues/<slug:slug>/review/<uuid:recommendation_id>/claim",
        review.claim_chosen,
        name="review-claim-chosen",
    ),
    path(
        "queues/<slug:slug>/review/<uuid:recommendation_id>/decide",
        review.decide,
        name="review-decide",
    ),
    path(
        "queues/<slug:slug>/review/<uuid:recommendation_id>/escalate",
        review.escalate,
        name="review-escalate",
    ),
    path(
        "queues/<slug:slug>/review/<uuid:recommendation_id>/release",
        review.release,
        name="review-release",
    ),
    path("settings/", account.settings_page, name="settings"),
    path(
        "settings/notifications",
        account.notifications_save,
        name="settings-notifications",
    ),
    path("settings/tokens/", account.token_create, name="settings-token-create"),
    path(
        "settings/tokens/<int:token_id>/revoke", account.token_revoke, name="settings-token-revoke"
    ),
    path("reports/", reports.reports_page, name="reports"),
    path("reports/<slug:section>.csv", reports.reports_csv, name="reports-csv"),
    path(
        "recommendations/<uuid:recommendation_id>/",
        recommendations.recommendation_detail,
        name="recommendation",
    ),
]
