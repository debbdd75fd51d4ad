"""Setup: apply a TOML config, create API keys and users. The only code that changes
configuration rows."""

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from reviewqueue.exceptions import ConfigError, NotFound, ValidationFailed
from reviewqueue.lib import keys
from reviewqueue.lib.canonical import sha256_hex
from reviewqueue.lib.outbound import OutboundRefused, check_url
from reviewqueue.lib.schema import schema_problem
from reviewqueue.models import (
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
from reviewqueue.selectors.targets import targets_changed
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.states import MemberRole, Role, Stage

_SECTIONS = {"action_types", "queues", "sources", "members"}
_ACTION_KEYS = {
    "name",
    "executor",
    "url",
    "signing_secret_env",
    "payload_schema",
    "cosmetic_fields",
    "always_review",
    "timeout_seconds",
    "max_attempts",
}
_QUEUE_KEYS = {
    "slug",
    "name",
    "stage",
    "action_types",
    "reason_codes",
    "sla_minutes",
    "sla_escalate",
    "lease_minutes",
    "blind_review",
    "routing",
    "breaker",
    "readiness",
}
_ROUTING_KEYS = {
    "auto_max_risk",
    "auto_min_confidence",
    "escalate_min_risk",
    "qa_sample_rate",
    "hard_risk_ceiling",
}
_BREAKER_KEYS = {"window", "max_failure_rate", "max_qa_rejection_rate"}
_SOURCE_KEYS = {"name", "queues", "callback_url", "signing_secret_env", "active"}
_MEMBER_KEYS = {"user", "queues", "role"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BUILTIN_EXECUTORS = {"webhook", "noop"}


@dataclass
class _Checker:
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(
        self, where: str, table: dict[str, Any], allowed: set[str], required: set[str]
    ) -> None:
        for key in sorted(set(table) - allowed):
            self.add(
                f"{where}.{key}", f"unknown key (expected one of {', '.join(sorted(allowed))})"
            )
        for key in sorted(required - set(table)):
            self.add(f"{where}.{key}", "is required")

    def string(self, where: str, value: Any, *, pattern: re.Pattern[str] | None = None) -> bool:
        if not isinstance(value, str) or not value.strip():
            self.add(where, "must be a non-empty string")
            return False
        if pattern is not None and not pattern.match(value):
            self.add(where, f"'{value}' is not allowed here (pattern {pattern.pattern})")
            return False
        return True

    def unit(self, where: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.add(where, f"must be a number from 0 to 1, got {value!r}")

    def positive_int(self, where: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.add(where, f"must be a positive integer, got {value!r}")

    def boolean(self, where: str, value: Any) -> None:
        if not isinstance(value, bool):
            self.add(where, f"must be true or false, got {value!r}")

    def string_list(self, where: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.add(where, "must be a list of non-empty strings")
            return []
        seen: set[str] = set()
        for item in value:
            if item in seen:
                self.add(where, f"'{item}' is listed twice")
            seen.add(item)
        return list(value)

    def url(self, where: str, value: Any) -> None:
        if (
            not isinstance(value, str)
            or urlsplit(value).scheme not in ("http", "https")
            or not urlsplit(value).hostname
        ):
            self.add(where, f"must be an http:// or https:// URL, got {value!r}")
            return
        try:
            check_url(value, settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST)
        except OutboundRefused as exc:
            self.add(where, f"not allowed as an outbound target: {exc}")

    def env_name(self, where: str, value: Any) -> None:
        if not isinstance(value, str) or not _ENV_NAME.match(value):
            self.add(where, f"must be an environment variable name, got {value!r}")


def _tables(check: _Checker, data: dict[str, Any], section: str) -> list[dict[str, Any]]:
    value = data.get(section, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        check.add(section, f"must be an array of tables ([[{section}]])")
        return []
    return value


def _check_action_types(check: _Checker, tables: list[dict[str, Any]]) -> None:
    executors = _BUILTIN_EXECUTORS | set(getattr(settings, "REVIEWQUEUE_EXECUTORS", {}))
    seen: set[str] = set()
    for i, t in enumerate(tables):
        where = f"action_types[{i}]"
        check.keys(where, t, _ACTION_KEYS, {"name", "payload_schema"})
        name = t.get("name")
        if check.string(f"{where}.name", name, pattern=re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")):
            if name in seen:
                check.add(f"{where}.name", f"duplicate action type '{name}'")
            seen.add(str(name))
        executor = t.get("executor", "noop")
        if executor not in executors:
            check.add(
                f"{where}.executor",
                f"unknown executor {executor!r} (expected one of {', '.join(sorted(executors))})",
            )
        if executor == "webhook":
            if "url" not in t:
                check.add(f"{where}.url", "is required for the webhook executor")
            else:
                check.url(f"{where}.url", t["url"])
        elif "url" in t:
            check.url(f"{where}.url", t["url"])
        if "signing_secret_env" in t:
            check.env_name(f"{where}.signing_secret_env", t["signing_secret_env"])
        if "payload_schema" in t:
            problem = schema_problem(t["payload_schema"])
            if problem:
                check.add(f"{where}.payload_schema", problem)
        cosmetic = check.string_list(f"{where}.cosmetic_fields", t.get("cosmetic_fields", []))
        props = (
            t.get("payload_schema", {}).get("properties")
            if isinstance(t.get("payload_schema"), dict)
            else None
        )
        if isinstance(props, dict):
            for name_ in cosmetic:
                if name_.split(".")[0] not in props:
                    check.add(
                        f"{where}.cosmetic_fields", f"'{name_}' is not a property of payload_schema"
                    )
        if "always_review" in t:
            check.boolean(f"{where}.always_review", t["always_review"])
        if "max_attempts" in t:
            check.positive_int(f"{where}.max_attempts", t["max_attempts"])
        if "timeout_seconds" in t:
            v = t["timeout_seconds"]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 300:
                check.add(
                    f"{where}.timeout_seconds",
                    f"must be a number of seconds from 0 to 300, got {v!r}",
                )


def _check_queues(check: _Checker, tables: list[dict[str, Any]], action_names: set[str]) -> None:
    stages = [s.value for s in Stage]
    seen: set[str] = set()
    for i, t in enumerate(tables):
        where = f"queues[{i}]"
        check.keys(where, t, _QUEUE_KEYS, {"slug", "name", "action_types"})
        slug = t.get("slug")
        if check.string(f"{where}.slug", slug, pattern=_SLUG):
            if slug in seen:
                check.add(f"{where}.slug", f"duplicate queue slug '{slug}'")
            seen.add(str(slug))
        if "name" in t:
            check.string(f"{where}.name", t["name"])
        stage = t.get("stage", Stage.APPROVAL.value)
        if stage not in stages:
            check.add(
                f"{where}.stage", f"unknown stage {stage!r} (expected one of {', '.join(stages)})"
            )
        for name in check.string_list(f"{where}.action_types", t.get("action_types", [])):
            if name not in action_names:
                check.add(f"{where}.action_types", f"unknown action type '{name}'")
        check.string_list(f"{where}.reason_codes", t.get("reason_codes", []))
        for key in ("sla_minutes", "lease_minutes"):
            if key in t:
                check.positive_int(f"{where}.{key}", t[key])
        for key in ("sla_escalate", "blind_review"):
            if key in t:
                check.boolean(f"{where}.{key}", t[key])
        routing = t.get("routing", {})
        if not isinstance(routing, dict):
            check.add(f"{where}.routing", "must be a table")
        else:
            check.keys(f"{where}.routing", routing, _ROUTING_KEYS, set())
            for key in _ROUTING_KEYS & set(routing):
                check.unit(f"{where}.routing.{key}", routing[key])
        breaker = t.get("breaker", {})
        if not isinstance(breaker, dict):
            check.add(f"{where}.breaker", "must be a table")
        else:
            check.keys(f"{where}.breaker", breaker, _BREAKER_KEYS, set())
            if "window" in breaker:
                check.positive_int(f"{where}.breaker.window", breaker["window"])
            for key in ("max_failure_rate", "max_qa_rejection_rate"):
                if key in breaker:
                    check.unit(f"{where}.breaker.{key}", breaker[key])
        if "readiness" in t and not isinstance(t["readiness"], dict):
            check.add(f"{where}.readiness", "must be a table")


def _check_sources(check: _Checker, tables: list[dict[str, Any]], queue_slugs: set[str]) -> None:
    seen: set[str] = set()
    for i, t in enumerate(tables):
        where = f"sources[{i}]"
        check.keys(where, t, _SOURCE_KEYS, {"name"})
        name = t.get("name")
        if check.string(f"{where}.name", name, pattern=_SLUG):
            if name in seen:
                check.add(f"{where}.name", f"duplicate source '{name}'")
            seen.add(str(name))
        for slug in check.string_list(f"{where}.queues", t.get("queues", [])):
            if slug not in queue_slugs:
                check.add(f"{where}.queues", f"unknown queue '{slug}'")
        if "callback_url" in t:
            check.url(f"{where}.callback_url", t["callback_url"])
        if "signing_secret_env" in t:
            check.env_name(f"{where}.signing_secret_env", t["signing_secret_env"])
        if "active" in t:
            check.boolean(f"{where}.active", t["active"])


def _check_members(check: _Checker, tables: list[dict[str, Any]], queue_slugs: set[str]) -> None:
    roles = [r.value for r in MemberRole]
    users = set(
        User.objects.filter(
            username__in=[t.get("user") for t in tables if isinstance(t.get("user"), str)]
        ).values_list("username", flat=True)
    )
    for i, t in enumerate(tables):
        where = f"members[{i}]"
        check.keys(where, t, _MEMBER_KEYS, {"user", "queues"})
        user = t.get("user")
        if check.string(f"{where}.user", user) and user not in users:
            check.add(
                f"{where}.user",
                f"no user '{user}' (create it first: manage.py create_user {user} --role reviewer)",
            )
        for slug in check.string_list(f"{where}.queues", t.get("queues", [])):
            if slug not in queue_slugs:
                check.add(f"{where}.queues", f"unknown queue '{slug}'")
        role = t.get("role", MemberRole.REVIEWER.value)
        if role not in roles:
            check.add(
                f"{where}.role", f"unknown role {role!r} (expected one of {', '.join(roles)})"
            )


def config_parse(text: str) -> dict[str, Any]:
    """Parse and check a config; raises ConfigError listing every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"TOML syntax error: {exc}"]) from None
    check = _Checker()
    for key in sorted(set(data) - _SECTIONS):
        check.add(key, f"unknown section (expected {', '.join(sorted(_SECTIONS))})")
    actions = _tables(check, data, "action_types")
    queues = _tables(check, data, "queues")
    sources = _tables(check, data, "sources")
    members = _tables(check, data, "members")
    _check_action_types(check, actions)
    action_names = {t["name"] for t in actions if isinstance(t.get("name"), str)}
    action_names |= set(ActionType.objects.values_list("name", flat=True))
    _check_queues(check, queues, action_names)
    queue_slugs = {t["slug"] for t in queues if isinstance(t.get("slug"), str)}
    queue_slugs |= set(Queue.objects.values_list("slug", flat=True))
    _check_sources(check, sources, queue_slugs)
    _check_members(check, members, queue_slugs)
    if check.problems:
        raise ConfigError(check.problems)
    return data


@dataclass
class ConfigResult:
    counts: dict[str, int]
    # Things the file asked for that were deliberately not done, in plain words.
    notes: list[str] = field(default_factory=list)


def config_apply(*, text: str, actor: Actor) -> ConfigResult:
    """Upsert action types, queues, sources and members from TOML; all or nothing.

    Idempotent: applying the same file twice changes nothing the second time. A source's
    queues and a queue's action types become exactly those listed. Nothing is deleted.
    A queue's `stage` is its starting stage: once the queue exists, stages move only in the
    app (services/stages.py, audited with the readiness evidence) or by its breaker, so a
    config file never silently promotes or demotes a queue; a differing stage is reported
    in the result's notes.
    Audited: one `config.applied` event with the file's hash, the counts and the notes.
    """
    data = config_parse(text)
    counts = {"action_types": 0, "queues": 0, "sources": 0, "members": 0}
    notes: list[str] = []
    with transaction.atomic():
        for t in data.get("action_types", []):
            ActionType.objects.update_or_create(
                name=t["name"],
                defaults={
                    "executor": t.get("executor", "noop"),
                    "url": t.get("url", ""),
                    "signing_secret_env": t.get("signing_secret_env", ""),
                    "payload_schema": t["payload_schema"],
                    "cosmetic_fields": t.get("cosmetic_fields", []),
                    "always_review": t.get("always_review", False),
                    "timeout_seconds": float(t.get("timeout_seconds", 10.0)),
                    "max_attempts": t.get("max_attempts", 8),
                },
            )
            counts["action_types"] += 1
        for t in data.get("queues", []):
            routing, breaker = t.get("routing", {}), t.get("breaker", {})
            wanted_stage = t.get("stage", Stage.APPROVAL.value)
            fields = {
                "name": t["name"],
                "reason_codes": t.get("reason_codes", []),
                "sla_minutes": t.get("sla_minutes"),
                "sla_escalate": t.get("sla_escalate", False),
                "lease_minutes": t.get("lease_minutes", 10),
                "blind_review": t.get("blind_review", False),
                "auto_max_risk": routing.get("auto_max_risk", 0.3),
                "auto_min_confidence": routing.get("auto_min_confidence", 0.95),
                "escalate_min_risk": routing.get("escalate_min_risk", 0.7),
                "qa_sample_rate": routing.get("qa_sample_rate", 0.05),
                "hard_risk_ceiling": routing.get("hard_risk_ceiling"),
                "breaker_window": breaker.get("window", 50),
                "breaker_max_failure_rate": breaker.get("max_failure_rate", 0.2),
                "breaker_max_qa_rejection_rate": breaker.get("max_qa_rejection_rate", 0.1),
                "readiness": t.get("readiness", {}),
            }
            queue, created = Queue.objects.update_or_create(
                slug=t["slug"],
                defaults=fields,
                create_defaults={**fields, "stage": wanted_stage},
            )
            if not created and queue.stage != wanted_stage:
                notes.append(
                    f"queues.{queue.slug}.stage: kept at '{queue.stage}' (the file says "
                    f"'{wanted_stage}'); an existing queue changes stage in the app, where the "
                    "move is audited with its readiness evidence."
                )
            wanted = set(
                ActionType.objects.filter(name__in=t["action_types"]).values_list("pk", flat=True)
            )
            QueueActionType.objects.filter(queue=queue).exclude(action_type_id__in=wanted).delete()
            have = set(
                QueueActionType.objects.filter(queue=queue).values_list("action_type_id", flat=True)
            )
            QueueActionType.objects.bulk_create(
                [QueueActionType(queue=queue, action_type_id=pk) for pk in wanted - have]
            )
            counts["queues"] += 1
        for t in data.get("sources", []):
            source, _ = Source.objects.update_or_create(
                name=t["name"],
                defaults={
                    "callback_url": t.get("callback_url", ""),
                    "signing_secret_env": t.get("signing_secret_env", ""),
                    "is_active": t.get("active", True),
                },
            )
            wanted = set(
                Queue.objects.filter(slug__in=t.get("queues", [])).values_list("pk", flat=True)
            )
            SourceQueue.objects.filter(source=source).exclude(queue_id__in=wanted).delete()
            have = set(SourceQueue.objects.filter(source=source).values_list("queue_id", flat=True))
            SourceQueue.objects.bulk_create(
                [SourceQueue(source=source, queue_id=pk) for pk in wanted - have]
            )
            counts["sources"] += 1
        for t in data.get("members", []):
            user = User.objects.get(username=t["user"])
            for queue in Queue.objects.filter(slug__in=t["queues"]):
                Membership.objects.update_or_create(
                    user=user,
                    queue=queue,
                    defaults={"role": t.get("role", MemberRole.REVIEWER.value)},
                )
            counts["members"] += 1
        targets_changed()
        audit_record(
            action="config.applied",
            actor=actor,
            data={"sha256": sha256_hex(text.encode()), **counts, "notes": notes},
        )
    return ConfigResult(counts=counts, notes=notes)


def api_key_create(
    *, source_name: str, name: str = "", expires_at: datetime | None = None, actor: Actor
) -> tuple[ApiKey, str]:
    """A new key for a source. Returns (row, plain key); the plain key is never stored.
    Audited: `api_key.created` (prefix only)."""
    source = Source.objects.filter(name=source_name).first()
    if source is None:
        raise NotFound(f"No source named '{source_name}'.")
    plain, prefix, digest = keys.generate(keys.SOURCE_KEY_KIND)
    with transaction.atomic():
        key = ApiKey.objects.create(
            source=source, name=name, prefix=prefix, key_hash=digest, expires_at=expires_at
        )
        audit_record(
            action="api_key.created",
            actor=actor,
            data={"source": source.name, "prefix": prefix, "name": name},
        )
    return key, plain


def api_key_revoke(*, key: ApiKey, actor: Actor) -> None:
    """Revoke a key at once. Audited: `api_key.revoked`."""
    from django.utils import timezone

    with transaction.atomic():
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_record(
            action="api_key.revoked",
            actor=actor,
            data={"source": key.source.name, "prefix": key.prefix},
        )


def personal_token_create(*, user: User, name: str = "", actor: Actor) -> tuple[PersonalToken, str]:
    """A personal API token for a person. Audited: `token.created`."""
    plain, prefix, digest = keys.generate(keys.PERSONAL_TOKEN_KIND)
    with transaction.atomic():
        token = PersonalToken.objects.create(user=user, name=name, prefix=prefix, key_hash=digest)
        audit_record(
            action="token.created", actor=actor, data={"user": user.username, "prefix": prefix}
        )
    return token, plain


def user_create(
    *, username: str, role: str, password: str, queues: list[str], actor: Actor
) -> tuple[User, bool]:
    """Create a user, or update an existing one's role, password and memberships.

    Admins get Django admin access. Members of `queues` join as senior when their role is
    senior or admin, else as reviewer. Audited: `user.created` or `user.updated`.
    """
    if role not in {r.value for r in Role}:
        raise ValidationFailed(
            f"Unknown role '{role}'.",
            errors={"role": "Must be reviewer, senior, admin or auditor."},
        )
    found = {q.slug: q for q in Queue.objects.filter(slug__in=queues)}
    missing = [s for s in queues if s not in found]
    if missing:
        raise ValidationFailed(
            f"Unknown queue(s): {', '.join(missing)}.", errors={"queues": "Unknown queue."}
        )
    user = User.objects.filter(username=username).first() or User(username=username)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(
            " ".join(exc.messages), errors={"password": " ".join(exc.messages)}
        ) from None
    created = user.pk is None
    with transaction.atomic():
        user.role = role
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.set_password(password)
        user.save()
        member_role = (
            MemberRole.SENIOR if role in (Role.SENIOR, Role.ADMIN) else MemberRole.REVIEWER
        )
        for queue in found.values():
            Membership.objects.update_or_create(
                user=user, queue=queue, defaults={"role": member_role}
            )
        audit_record(
            action="user.created" if created else "user.updated",
            actor=actor,
            data={"username": username, "role": role, "queues": sorted(found)},
        )
    return user, created
