"""Django admin: configuration is editable, recommendations and the audit trail are
read-only (they change only through services)."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from reviewqueue.exceptions import DomainError
from reviewqueue.models import (
    ActionType,
    ApiKey,
    AuditEvent,
    Decision,
    Execution,
    Membership,
    Queue,
    Recommendation,
    Source,
    User,
)
from reviewqueue.services.audit import Actor
from reviewqueue.services.breaker import breaker_resume
from reviewqueue.services.execution import execution_retry
from reviewqueue.services.setup import api_key_create, api_key_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class ReviewQueueUserAdmin(UserAdmin):
    list_display = ("username", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Review Queue", {"fields": ("role",)}))  # type: ignore[misc]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "stage", "sla_minutes", "breaker_tripped_at")
    list_filter = ("stage",)
    inlines = [MembershipInline]
    readonly_fields = ("breaker_tripped_at", "breaker_reason", "stage")
    actions = ["resume_breaker"]

    @admin.action(description="Resume auto-execution (reset a tripped breaker)")
    def resume_breaker(self, request: HttpRequest, queryset: QuerySet[Queue]) -> None:
        for queue in queryset:
            try:
                breaker_resume(queue=queue, user=request.user, comment="from the admin")  # type: ignore[arg-type]
                self.message_user(request, f"{queue.slug}: resumed.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{queue.slug}: {exc.detail}", messages.WARNING)


@admin.register(ActionType)
class ActionTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "executor", "url", "always_review")


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "callback_url", "is_active")
    inlines = [ApiKeyInline]
    actions = ["create_key"]

    @admin.action(description="Create an API key (shown once)")
    def create_key(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            _, plain = api_key_create(
                source_name=source.name,
                name="admin",
                actor=Actor.of_user(request.user),  # type: ignore[arg-type]
            )
            self.message_user(
                request,
                f"New key for {source.name} (copy it now, it is not shown again): {plain}",
                messages.SUCCESS,
            )


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = (
        "source",
        "prefix",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # actions need it; the form stays read-only

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.select_related("source"):
            api_key_revoke(key=key, actor=Actor.of_user(request.user))  # type: ignore[arg-type]
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(Recommendation)
class RecommendationAdmin(ReadOnlyAdmin):
    list_display = (
        "external_id",
        "queue",
        "status",
        "route",
        "confidence",
        "risk_score",
        "created_at",
    )
    list_filter = ("status", "route", "queue")
    search_fields = ("external_id",)
    list_select_related = ("queue",)
    show_full_result_count = False


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("recommendation", "outcome", "kind", "reviewer", "decided_at")
    list_filter = ("outcome", "kind", "queue")
    list_select_related = ("recommendation", "reviewer")


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "status", "attempts", "last_error", "updated_at")
    list_filter = ("status",)
    actions = ["retry"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # actions need it; the form stays read-only

    @admin.action(description="Retry the selected dead executions")
    def retry(self, request: HttpRequest, queryset: QuerySet[Execution]) -> None:
        done, refused = 0, []
        for execution in queryset:
            try:
                execution_retry(execution_id=execution.pk, user=request.user)  # type: ignore[arg-type]
                done += 1
            except DomainError as exc:
                refused.append(f"{execution.idempotency_key}: {exc.detail}")
        if done:
            self.message_user(
                request, f"{done} execution(s) sent back to the workers.", messages.SUCCESS
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "occurred_at", "action", "actor_label", "recommendation")
    list_filter = ("action", "actor_kind")
    show_full_result_count = False
