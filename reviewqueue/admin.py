"""Django admin: another client of the services. Configuration changes go through the same
validation and audit as apply_config: each form's clean() asks the save service's own rules
(services/config_check.py, via config_edit.form_problems), and saves, deletes and actions
call the services, which write one audit event per change with every changed field before
and after. Recommendations, decisions, executions and the audit trail are read-only (they
change only through services)."""

import json
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from reviewqueue.exceptions import DomainError
from reviewqueue.models import (
    ActionType,
    ApiKey,
    AuditEvent,
    Decision,
    Execution,
    Membership,
    Notification,
    PersonalToken,
    Queue,
    Recommendation,
    Source,
    User,
)
from reviewqueue.services import config_edit
from reviewqueue.services.audit import Actor
from reviewqueue.services.breaker import breaker_resume
from reviewqueue.services.execution import execution_retry
from reviewqueue.services.setup import (
    USER_EDITABLE,
    api_key_create,
    api_key_revoke,
    user_create,
    user_password_recorded,
    user_update,
)
from reviewqueue.services.tokens import personal_token_revoke


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)  # the admin is behind staff login


def _actor(request: HttpRequest) -> Actor:
    return Actor.of_user(_user(request))


# The admin's classes are generic to the type checker only (django-stubs); at run time they
# are plain classes and cannot be subscripted.
if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Any]
    _ModelForm = forms.ModelForm[Any]
    _UserAdmin = UserAdmin[User]
else:
    _ModelAdmin, _ModelForm, _UserAdmin = admin.ModelAdmin, forms.ModelForm, UserAdmin


class ReadOnlyAdmin(_ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ServiceForm(_ModelForm):
    """A configuration form judged by the save service's own rules: what apply_config
    refuses, this form refuses, with the same words, on the field they are about."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        row = self.instance if self.instance.pk else None
        for name, message in config_edit.form_problems(type(self.instance), row, cleaned):
            if name in self.fields:
                if name not in self.errors:  # its own validation already said why
                    self.add_error(name, message)
            else:
                self.add_error(None, f"{name}: {message}" if name else message)
        return cleaned


class ServiceAdmin(_ModelAdmin):
    """Saves and deletes through a service, never the ORM: the row, its inlines and the
    audit event are written together by `service_save` (called from save_related, when
    Django's admin has validated the form and every inline; its transaction is ours)."""

    natural_key = "name"  # fixed once created: ingest and caches find rows by it

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fixed = (self.natural_key,) if obj is not None else ()
        return (*fixed, *super().get_readonly_fields(request, obj))

    def service_save(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> Model:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing yet: save_related saves the row with its inlines, as one change."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        saved = self.service_save(request, form, formsets, change)
        form.instance.pk = saved.pk  # Django's log entry and redirect need it
        form.instance._state.adding = False

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> Any:
        # The inlines were saved by the service, not by their formsets (the audit event
        # has the details).
        return super().construct_change_message(request, form, [], add)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        config_edit.config_delete(obj=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for obj in queryset:
                config_edit.config_delete(obj=obj, actor=_actor(request))


# --- People ----------------------------------------------------------------------------------


class UserAddForm(UserCreationForm):  # type: ignore[type-arg]
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "role")


@admin.register(User)
class ReviewQueueUserAdmin(ServiceAdmin, _UserAdmin):
    natural_key = "username"
    list_display = ("username", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Review Queue", {"fields": ("role", "is_active")}),
        ("Admin access (follows the role)", {"fields": ("is_staff", "is_superuser")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "role", "password1", "password2")}),
    )
    add_form = UserAddForm
    readonly_fields = ("is_staff", "is_superuser", "last_login", "date_joined")
    filter_horizontal = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A username may change (nothing finds people by it); the base adds it as fixed.
        return self.readonly_fields

    def service_save(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> Model:
        data = form.cleaned_data
        if not change:
            user, _ = user_create(
                username=data["username"],
                role=data["role"],
                password=data["password1"],
                queues=[],
                actor=_actor(request),
            )
            return user
        values = {name: data[name] for name in USER_EDITABLE if name in data}
        return user_update(user_id=form.instance.pk, values=values, actor=_actor(request))

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        """Django's own view sets the password; the change is recorded in its transaction."""
        if request.method != "POST":
            return super().user_change_password(request, id, form_url)
        with transaction.atomic():
            found = self.get_object(request, unquote(id))  # None: Django's view answers 404
            pk = found.pk if found is not None else 0
            old = User.objects.select_for_update().filter(pk=pk).values_list("password").first()
            response = super().user_change_password(request, id, form_url)
            user = User.objects.filter(pk=pk).first()
            if user is not None and old is not None and user.password != old[0]:
                user_password_recorded(
                    user=user, actor=_actor(request), usable=user.has_usable_password()
                )
        return response


# --- Queues and their members ------------------------------------------------------------------


def _json_or_empty(value: Any) -> Any:
    return {} if value is None else value


class QueueForm(ServiceForm):
    class Meta:
        model = Queue
        fields = ("slug", *config_edit.QUEUE.editable)

    # An emptied JSON box means the column's default ({}: no outlier flags, the default
    # gates); the form field alone would make it null, which the column does not take.
    def clean_anomaly(self) -> Any:
        return _json_or_empty(self.cleaned_data.get("anomaly"))

    def clean_readiness(self) -> Any:
        return _json_or_empty(self.cleaned_data.get("readiness"))


class MembershipFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            user = data.get("user")
            if user is None or data.get("DELETE"):
                continue
            edit = config_edit.MemberEdit(user=user, role=data.get("role"))
            for message in config_edit.member_refusals([edit]).values():
                form.add_error("user", message)


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    formset = MembershipFormSet
    extra = 0


def _member_edits(formsets: Any) -> list[config_edit.MemberEdit]:
    """The membership inline's rows as edits: removed, added, changed (a row whose person
    changed removes the old member)."""
    edits = []
    for formset in formsets:
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None) or {}
            old = form.instance.pk and User.objects.get(pk=form.initial["user"])
            if formset._should_delete_form(form):
                if old:
                    edits.append(config_edit.MemberEdit(user=old, role=None))
                continue
            if not form.has_changed() or not data.get("user"):
                continue
            if old and old.pk != data["user"].pk:
                edits.append(config_edit.MemberEdit(user=old, role=None))
            edits.append(config_edit.MemberEdit(user=data["user"], role=data["role"]))
    return edits


@admin.register(Queue)
class QueueAdmin(ServiceAdmin):
    natural_key = "slug"
    form = QueueForm
    fieldsets = (
        (None, {"fields": ("slug", "name", "stage", "reason_codes", "guidelines", "blind_review")}),
        (
            "Review",
            {
                "fields": (
                    "sla_minutes",
                    "sla_escalate",
                    "sla_warning_minutes",
                    "lease_minutes",
                    "reviewers_per_item",
                )
            },
        ),
        ("Notifications", {"fields": ("chat",)}),
        (
            "Routing",
            {
                "fields": (
                    "auto_max_risk",
                    "auto_min_confidence",
                    "escalate_min_risk",
                    "qa_sample_rate",
                    "hard_risk_ceiling",
                    "hard_confidence_floor",
                )
            },
        ),
        (
            "Anomaly flags",
            {
                "fields": ("anomaly", "max_per_5min"),
                "description": (
                    'Supervised and autonomous stages. anomaly: {"fields": ["amount"], '
                    '"z": 4.0, "window": 1000} (z and window optional), or {} for none.'
                ),
            },
        ),
        (
            "Circuit breaker",
            {
                "fields": (
                    "breaker_window",
                    "breaker_max_failure_rate",
                    "breaker_max_qa_rejection_rate",
                    "breaker_tripped_at",
                    "breaker_reason",
                )
            },
        ),
        ("Readiness gates", {"fields": ("readiness",)}),
    )
    list_display = ("slug", "name", "stage", "sla_minutes", "breaker_tripped_at")
    list_filter = ("stage",)
    inlines = [MembershipInline]
    readonly_fields = ("breaker_tripped_at", "breaker_reason", "stage")
    actions = ["resume_breaker"]

    def service_save(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> Model:
        return config_edit.queue_save(
            queue_id=form.instance.pk if change else None,
            values=form.cleaned_data,
            members=_member_edits(formsets),
            actor=_actor(request),
        )

    @admin.action(description="Resume auto-execution (reset a tripped breaker)")
    def resume_breaker(self, request: HttpRequest, queryset: QuerySet[Queue]) -> None:
        for queue in queryset:
            try:
                breaker_resume(queue=queue, user=_user(request), comment="from the admin")
                self.message_user(request, f"{queue.slug}: resumed.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{queue.slug}: {exc.detail}", messages.WARNING)


# --- Action types and sources --------------------------------------------------------------------


class ActionTypeForm(ServiceForm):
    class Meta:
        model = ActionType
        fields = ("name", *config_edit.ACTION_TYPE.editable)


@admin.register(ActionType)
class ActionTypeAdmin(ServiceAdmin):
    form = ActionTypeForm
    list_display = ("name", "executor", "url", "always_review")

    def service_save(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> Model:
        return config_edit.action_type_save(
            action_type_id=form.instance.pk if change else None,
            values=form.cleaned_data,
            actor=_actor(request),
        )


class ApiKeyInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiKey
    extra = 0
    fields = ("prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SourceForm(ServiceForm):
    class Meta:
        model = Source
        fields = ("name", *config_edit.SOURCE.editable)


@admin.register(Source)
class SourceAdmin(ServiceAdmin):
    form = SourceForm
    list_display = ("name", "callback_url", "is_active")
    inlines = [ApiKeyInline]
    actions = ["create_key"]

    def service_save(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> Model:
        return config_edit.source_save(
            source_id=form.instance.pk if change else None,
            values=form.cleaned_data,
            actor=_actor(request),
        )

    @admin.action(description="Create an API key (shown once)")
    def create_key(self, request: HttpRequest, queryset: QuerySet[Source]) -> HttpResponse:
        """The plain keys go on this one page, never into a message (the messages cookie
        would carry them, signed but readable, to the next pages and any log of cookies)."""
        created = []
        for source in queryset:
            _, plain = api_key_create(source_name=source.name, name="admin", actor=_actor(request))
            created.append((source.name, plain))
        response = TemplateResponse(
            request,
            "admin/reviewqueue/source/api_keys_created.html",
            {
                **self.admin_site.each_context(request),
                "title": "New API keys",
                "opts": self.opts,
                "keys": created,
            },
        )
        add_never_cache_headers(response)  # Cache-Control: no-store, private, ...
        return response


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
            api_key_revoke(key=key, actor=_actor(request))
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(PersonalToken)
class PersonalTokenAdmin(ReadOnlyAdmin):
    """People's API tokens: read-only (never the hash), revoked by the action, which goes
    through the same service (and audit) as the owner's settings page and revoke_token."""

    list_display = (
        "user",
        "prefix",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "user__username")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # actions need it; the form stays read-only

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[PersonalToken]) -> None:
        for token in queryset:
            personal_token_revoke(token_id=token.pk, user=_user(request), actor=_actor(request))
        self.message_user(request, "Revoked.", messages.SUCCESS)


# --- Read-only records ---------------------------------------------------------------------------


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
                execution_retry(execution_id=execution.pk, user=_user(request))
                done += 1
            except DomainError as exc:
                refused.append(f"{execution.idempotency_key}: {exc.detail}")
        if done:
            self.message_user(
                request, f"{done} execution(s) sent back to the workers.", messages.SUCCESS
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """The notification outbox: dead rows show their last error (filter by status)."""

    list_display = (
        "id",
        "created_at",
        "channel",
        "event",
        "recipient_key",
        "status",
        "attempts",
        "last_error",
        "subject",
    )
    list_filter = ("status", "channel", "event")
    search_fields = ("recipient_key", "subject")
    show_full_result_count = False


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _change_rows(changes: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str]]:
    """(what, before, after) per changed field; config.applied nests them per object."""
    rows = []
    for name, change in changes.items():
        if not isinstance(change, dict):
            continue
        if {"before", "after"} <= set(change) or "changed" in change:
            before = "(secret)" if "changed" in change else _shown(change.get("before"))
            after = "changed" if "changed" in change else _shown(change.get("after"))
            rows.append((f"{prefix}{name}", before, after))
        else:
            rows += _change_rows(change, f"{prefix}{name}: ")
    return rows


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "occurred_at", "action", "actor_label", "recommendation")
    list_filter = ("action", "actor_kind")
    readonly_fields = ("what_changed",)
    show_full_result_count = False

    @admin.display(description="What changed")
    def what_changed(self, obj: AuditEvent) -> SafeString | str:
        rows = _change_rows((obj.data or {}).get("changes") or {})
        if not rows:
            return "—"
        body = format_html_join(
            "",
            '<tr data-change="{}"><td>{}</td><td>{}</td><td>{}</td></tr>',
            ((what, what, before, after) for what, before, after in rows),
        )
        return format_html(
            '<table class="audit-changes"><thead><tr><th>Field</th><th>Before</th>'
            "<th>After</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )
