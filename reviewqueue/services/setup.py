"""Setup: apply a TOML config, create API keys, people and their tokens. With
services/config_edit.py (one object at a time, the admin's path), the only code that changes
configuration rows; what is valid is services/config_check.py's to say (with the schema
of the file, reviewqueue/config_schema.py).

Every change is recorded with what it changed: field by field, before and after
(config_edit.field_changes), a secret only as changed.
"""

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from reviewqueue import access, config_schema
from reviewqueue.exceptions import ConfigError, NotFound, ValidationFailed
from reviewqueue.lib import keys
from reviewqueue.lib.canonical import sha256_hex
from reviewqueue.models import (
    ActionType,
    ApiKey,
    Membership,
    Queue,
    QueueActionType,
    Source,
    SourceQueue,
    User,
)
from reviewqueue.selectors.targets import targets_changed
from reviewqueue.services import config_check
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.config_edit import (
    Changes,
    MemberEdit,
    field_changes,
    links_set,
    memberships_set,
    row_upsert,
)
from reviewqueue.states import Role


def config_parse(text: str) -> dict[str, Any]:
    """Parse and check a config; raises ConfigError listing every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"TOML syntax error: {exc}"]) from None
    members = data.get("members")
    named = (
        [t.get("user") for t in members if isinstance(t, dict)] if isinstance(members, list) else []
    )
    problems = config_check.file_problems(
        data,
        known_action_schemas=dict(ActionType.objects.values_list("name", "payload_schema")),
        known_queue_slugs=set(Queue.objects.values_list("slug", flat=True)),
        user_roles=dict(
            User.objects.filter(username__in=[n for n in named if isinstance(n, str)]).values_list(
                "username", "role"
            )
        ),
    )
    if problems:
        raise ConfigError(problems)
    return data


@dataclass
class ConfigResult:
    counts: dict[str, int]
    # Things the file asked for that were deliberately not done, in plain words.
    notes: list[str] = field(default_factory=list)
    # What changed, per object ("queue refunds"): field -> before/after.
    changes: dict[str, Changes] = field(default_factory=dict)


def config_apply(*, text: str, actor: Actor) -> ConfigResult:
    """Upsert action types, queues, sources and members from TOML; all or nothing.

    Idempotent: applying the same file twice changes nothing the second time. A source's
    queues and a queue's action types become exactly those listed. Nothing is deleted.
    A key the file leaves out takes its default (reviewqueue/config_schema.py, which the
    models' field defaults are too). A queue's `stage` is its starting
    stage: once the queue exists, stages move only in the app (services/stages.py, audited
    with the readiness evidence) or by its breaker, so a config file never silently
    promotes or demotes a queue; a differing stage is reported in the result's notes.
    Audited: one `config.applied` event with the file's hash, the counts, the notes and
    what changed (`changes`: per object, each changed field before and after; a member as
    `member <username>` of its queue).
    """
    data = config_parse(text)
    counts = {"action_types": 0, "queues": 0, "sources": 0, "members": 0}
    notes: list[str] = []
    changes: dict[str, Changes] = {}

    def note(name: str, changed: Changes) -> None:
        if changed:
            changes.setdefault(name, {}).update(changed)

    with transaction.atomic():
        for t in data.get("action_types", []):
            values = config_check.values_of(config_check.ACTION_TYPE_FIELDS, t, ActionType)
            _, _, changed = row_upsert(ActionType, {"name": t["name"]}, values)
            note(f"action_type {t['name']}", changed)
            counts["action_types"] += 1
        for t in data.get("queues", []):
            queue, changed = _queue_apply(t, notes)
            note(f"queue {queue.slug}", changed)
            counts["queues"] += 1
        for t in data.get("sources", []):
            values = config_check.values_of(config_check.SOURCE_FIELDS, t, Source)
            source, _, changed = row_upsert(Source, {"name": t["name"]}, values)
            changed |= links_set(
                through=SourceQueue,
                owner_field="source",
                owner=source,
                target_field="queue",
                targets=Queue.objects.filter(slug__in=t.get("queues", [])),
            )
            note(f"source {source.name}", changed)
            counts["sources"] += 1
        for t in data.get("members", []):
            edit = MemberEdit(
                user=User.objects.get(username=t["user"]),
                role=t.get("role", config_schema.default("members", "role")),
            )
            for queue in Queue.objects.filter(slug__in=t["queues"]).order_by("slug"):
                note(f"queue {queue.slug}", memberships_set(queue=queue, edits=[edit]))
            counts["members"] += 1
        targets_changed()
        audit_record(
            action="config.applied",
            actor=actor,
            data={
                "sha256": sha256_hex(text.encode()),
                **counts,
                "notes": notes,
                "changes": changes,
            },
        )
    return ConfigResult(counts=counts, notes=notes, changes=changes)


def _queue_apply(t: dict[str, Any], notes: list[str]) -> tuple[Queue, Changes]:
    """One queue of the file: upserted, its action types exactly those listed. The stage is
    only a starting stage (see config_apply): a differing one is kept and noted."""
    values = config_check.values_of(config_check.QUEUE_FIELDS, t, Queue)
    wanted_stage = values.pop("stage")
    queue, created, changed = row_upsert(
        Queue, {"slug": t["slug"]}, values, create_only={"stage": wanted_stage}
    )
    if not created and queue.stage != wanted_stage:
        notes.append(
            f"queues.{queue.slug}.stage: kept at '{queue.stage}' (the file says "
            f"'{wanted_stage}'); an existing queue changes stage in the app, where the "
            "move is audited with its readiness evidence."
        )
    changed |= links_set(
        through=QueueActionType,
        owner_field="queue",
        owner=queue,
        target_field="action_type",
        targets=ActionType.objects.filter(name__in=t["action_types"]),
    )
    return queue, changed


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


# --- People -------------------------------------------------------------------------------

# What a person's record says, as audited (the password only as changed).
_USER_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "role",
    "is_active",
    "is_staff",
    "is_superuser",
)
# What the admin's person form may change; staff and superuser follow the role.
USER_EDITABLE = ("username", "first_name", "last_name", "email", "role", "is_active")


def _user_state(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in _USER_FIELDS} if user.pk else {}


def _role_set(user: User, role: str) -> None:
    # Admins get the Django admin; nobody else does (create_user's rule, and the admin's).
    user.role = role
    user.is_staff = user.is_superuser = access.has_django_admin(role)


def _memberships_dropped(user: User) -> Changes:
    """An auditor is never a member (access.membership_refusal): a person who becomes one
    leaves every queue, recorded per queue."""
    gone = list(Membership.objects.filter(user=user).select_related("queue"))
    Membership.objects.filter(pk__in=[m.pk for m in gone]).delete()
    return {f"member of {m.queue.slug}": {"before": m.role, "after": None} for m in gone}


def user_credentials_changed(*, user: User, reason: str, actor: Actor) -> None:
    """Called inside the transaction of every change that must end what the person's old
    credentials allowed: a new role, a new password, deactivation. Revokes every personal
    token of the person (a token minted under the old role or password must not outlive
    it); sessions of a changed password end through Django's own session hash. Audited:
    `token.revoked` with the prefixes and `reason` (nothing when there were none)."""
    from reviewqueue.services.tokens import personal_tokens_revoke_all

    personal_tokens_revoke_all(user=user, reason=reason, actor=actor)


def user_create(
    *, username: str, role: str, password: str, queues: list[str], actor: Actor
) -> tuple[User, bool]:
    """Create a user, or update an existing one's role, password and memberships.

    Admins get Django admin access. Members of `queues` join as senior when their role is
    senior or admin, else as reviewer. An auditor joins no queue (refused with `queues`;
    an existing member who becomes an auditor leaves every queue). A changed role or
    password goes through `user_credentials_changed`. Audited: `user.created` or
    `user.updated`, with every changed field (`changes`, the password as changed).
    """
    if role not in {r.value for r in Role}:
        raise ValidationFailed(
            f"Unknown role '{role}'.",
            errors={"role": "Must be reviewer, senior, admin or auditor."},
        )
    if queues and (refusal := access.membership_refusal(role)):
        raise ValidationFailed(
            f"'{username}' cannot join {', '.join(queues)}: {refusal}.",
            errors={"queues": f"Not for the {role} role: {refusal}."},
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
        before = _user_state(user)
        _role_set(user, role)
        user.set_password(password)
        user.save()
        changes = field_changes(before, _user_state(user)) | {"password": {"changed": True}}
        if access.membership_refusal(role):
            changes |= _memberships_dropped(user)
        member_role = access.member_role_for(role)
        for slug, queue in sorted(found.items()):
            joined = memberships_set(queue=queue, edits=[MemberEdit(user=user, role=member_role)])
            changes |= {f"member of {slug}": c for c in joined.values()}
        if not created:
            user_credentials_changed(user=user, reason="updated by create_user", actor=actor)
        audit_record(
            action="user.created" if created else "user.updated",
            actor=actor,
            data={"username": username, "role": role, "queues": sorted(found), "changes": changes},
        )
    return user, created


def user_update(*, user_id: int, values: dict[str, Any], actor: Actor) -> User:
    """Change a person's record (the admin's form): fields of USER_EDITABLE. A new role
    sets staff and superuser as create_user does; a person who becomes an auditor leaves
    every queue; a new role or deactivation goes through `user_credentials_changed`.
    Audited: one `user.changed` with every changed field before and after (nothing when
    nothing changed)."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        before = _user_state(user)
        for name in USER_EDITABLE:
            if name in values and name != "role":
                setattr(user, name, values[name])
        if values.get("role", user.role) != user.role:
            _role_set(user, values["role"])
        changes = field_changes(before, _user_state(user))
        if not changes:
            return user
        user.save(update_fields=[name for name in _USER_FIELDS if name in changes])
        if "role" in changes and access.membership_refusal(user.role):
            changes |= _memberships_dropped(user)
        if "role" in changes or changes.get("is_active", {}).get("after") is False:
            user_credentials_changed(user=user, reason="role or activity changed", actor=actor)
        audit_record(
            action="user.changed",
            actor=actor,
            data={"object": "user", "name": user.username, "changes": changes},
        )
    return user


def user_password_recorded(*, user: User, actor: Actor, usable: bool) -> None:
    """Record a password the admin's own password form just set (Django's view saves it,
    in the same transaction as this). Audited: `user.changed` with the password as
    changed."""
    user_credentials_changed(user=user, reason="password changed", actor=actor)
    audit_record(
        action="user.changed",
        actor=actor,
        data={
            "object": "user",
            "name": user.username,
            "changes": {"password": {"changed": True, "usable": usable}},
        },
    )
