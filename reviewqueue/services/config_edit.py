"""Changing configuration one object at a time (the Django admin is its client), and the
before/after record every configuration change carries, whoever makes it.

Each save is one transaction and one audit event naming every changed field with its value
before and after (`{"field": {"before": ..., "after": ...}}`; a secret says only
`{"changed": true}`). A save that changes nothing writes nothing. Values are judged by the
same validator as apply_config's file (services/config_check.py) before anything is written.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from reviewqueue import access
from reviewqueue.exceptions import ValidationFailed
from reviewqueue.models import ActionType, Membership, Queue, Source, User
from reviewqueue.selectors.targets import targets_changed
from reviewqueue.services import config_check
from reviewqueue.services.audit import Actor, audit_record

Changes = dict[str, dict[str, Any]]

# Never recorded by value.
SECRET_FIELDS = frozenset({"password"})


def jsonable(value: Any) -> Any:
    """A field value as the audit event's JSON stores it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """`{field: {"before", "after"}}` for every field of `after` whose value differs."""
    changes: Changes = {}
    for name, new in after.items():
        old = before.get(name)
        if old == new or (old is None and new in ("", [], {})):
            continue  # (a new row's empty optional field is no news)
        changes[name] = (
            {"changed": True}
            if name in SECRET_FIELDS
            else {"before": jsonable(old), "after": jsonable(new)}
        )
    return changes


def row_upsert[M: models.Model](
    model: type[M],
    lookup: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    create_only: Mapping[str, Any] | None = None,
) -> tuple[M, bool, Changes]:
    """Create or change the row found by `lookup` (locked), saving only the changed fields.
    Returns (row, created, changes); a created row's changes are all its given values."""
    row = model._default_manager.select_for_update().filter(**lookup).first()
    if row is None:
        given = {**lookup, **values, **(create_only or {})}
        return model._default_manager.create(**given), True, field_changes({}, given)
    changes = field_changes({name: getattr(row, name) for name in values}, values)
    if changes:
        for name in changes:
            setattr(row, name, values[name])
        stamp = ["updated_at"] if any(f.name == "updated_at" for f in model._meta.fields) else []
        row.save(update_fields=[*changes, *stamp])
    return row, False, changes


def links_set(
    *,
    through: type[models.Model],
    owner_field: str,
    owner: models.Model,
    target_field: str,
    targets: Iterable[models.Model],
) -> Changes:
    """Make `owner`'s links (rows of `through`) exactly `targets`. The change is one field
    named after the links (`action_types`, `queues`), sorted names before and after."""
    manager = through._default_manager
    have = {
        getattr(link, target_field).pk: getattr(link, target_field)
        for link in manager.filter(**{owner_field: owner}).select_related(target_field)
    }
    wanted = {t.pk: t for t in targets}
    manager.filter(
        **{owner_field: owner, f"{target_field}_id__in": [pk for pk in have if pk not in wanted]}
    ).delete()
    manager.bulk_create(
        [
            through(**{owner_field: owner, target_field: t})
            for pk, t in wanted.items()
            if pk not in have
        ]
    )
    before, after = sorted(map(str, have.values())), sorted(map(str, wanted.values()))
    return {} if before == after else {f"{target_field}s": {"before": before, "after": after}}


@dataclass(frozen=True)
class MemberEdit:
    user: User
    role: str | None  # None: no longer a member


def member_refusals(edits: Iterable[MemberEdit]) -> dict[str, str]:
    """Why some of `edits` may not be made ({username: message}); asked before saving."""
    return {
        e.user.username: f"'{e.user.username}': {refusal}"
        for e in edits
        if e.role is not None and (refusal := access.membership_refusal(e.user.role))
    }


def memberships_set(*, queue: Queue, edits: Sequence[MemberEdit]) -> Changes:
    """Apply member edits to `queue`; refused (ValidationFailed) for anyone who may not be a
    member (access.membership_refusal). Changes are keyed `member <username>`."""
    if refusals := member_refusals(edits):
        raise ValidationFailed(
            " ".join(refusals.values()), errors={"members": " ".join(refusals.values())}
        )
    changes: Changes = {}
    for edit in edits:
        found = Membership.objects.filter(user=edit.user, queue=queue).first()
        before = found.role if found else None
        if edit.role is None and found is not None:
            found.delete()
        elif edit.role is not None:
            Membership.objects.update_or_create(
                user=edit.user, queue=queue, defaults={"role": edit.role}
            )
        if before != edit.role:
            changes[f"member {edit.user.username}"] = {"before": before, "after": edit.role}
    return changes


# --- One object from the admin -----------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    name: str  # in audit actions: queue.changed
    model: type[models.Model]
    key: str  # the natural key (fixed once created: ingest and caches name rows by it)
    fields: Mapping[str, str]  # TOML key -> model field
    editable: tuple[str, ...]
    links: Callable[[Any], dict[str, list[str]]]  # the row's links, as its TOML table has them
    judge: Callable[[dict[str, Any]], list[config_check.Problem]]


def _names(row: Any, relation: str, attr: str) -> list[str]:
    if row is None or row.pk is None:
        return []
    return sorted(getattr(row, relation).values_list(attr, flat=True))


QUEUE = _Kind(
    "queue",
    Queue,
    "slug",
    config_check.QUEUE_FIELDS,
    # The stage moves only in the app, audited with its readiness evidence.
    tuple(f for f in config_check.QUEUE_FIELDS.values() if f != "stage"),
    lambda row: {"action_types": _names(row, "action_types", "name")},
    lambda t: config_check.queue_problems(
        t,
        action_schemas=dict(
            ActionType.objects.filter(name__in=t["action_types"]).values_list(
                "name", "payload_schema"
            )
        ),
    ),
)
ACTION_TYPE = _Kind(
    "action_type",
    ActionType,
    "name",
    config_check.ACTION_TYPE_FIELDS,
    tuple(config_check.ACTION_TYPE_FIELDS.values()),
    lambda row: {},
    config_check.action_type_problems,
)
SOURCE = _Kind(
    "source",
    Source,
    "name",
    config_check.SOURCE_FIELDS,
    tuple(config_check.SOURCE_FIELDS.values()),
    lambda row: {"queues": _names(row, "queues", "slug")},
    lambda t: config_check.source_problems(t, queue_slugs=set(t["queues"])),
)
KINDS: dict[type[models.Model], _Kind] = {k.model: k for k in (QUEUE, ACTION_TYPE, SOURCE)}


def _table(kind: _Kind, row: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    current = {f: getattr(row, f) for f in kind.fields.values()} if row is not None else {}
    wanted = {f: values[f] for f in kind.editable if f in values}
    key = getattr(row, kind.key) if row is not None and row.pk else values.get(kind.key)
    table = config_check.table_of(kind.fields, {**current, **wanted})
    return {kind.key: key, **kind.links(row), **table}


def form_problems(
    model: type[models.Model], row: models.Model | None, values: Mapping[str, Any]
) -> list[tuple[str | None, str]]:
    """What the save service would refuse, as (model field or None, message): the admin's
    form shows these on its fields before anything is saved. A problem inside a field's
    value (`anomaly.z` of the anomaly field) names its key path, as apply_config does."""
    kind = KINDS[model]
    return [
        (
            config_check.field_of(kind.fields, path),
            message
            if not path or path in kind.fields or path == kind.key
            else f"{path}: {message}",
        )
        for path, message in kind.judge(_table(kind, row, values))
    ]


def _save(
    kind: _Kind,
    *,
    obj_id: int | None,
    values: Mapping[str, Any],
    actor: Actor,
    members: Sequence[MemberEdit] = (),
) -> Any:
    with transaction.atomic():
        manager = kind.model._default_manager
        row = manager.select_for_update().get(pk=obj_id) if obj_id is not None else None
        table = _table(kind, row, values)
        if problems := kind.judge(table):
            errors: dict[str, str] = {}
            for path, message in problems:
                name = config_check.field_of(kind.fields, path) or "__all__"
                errors[name] = f"{errors[name]} {message}" if name in errors else message
            raise ValidationFailed("; ".join(f"{p}: {m}" for p, m in problems), errors=errors)
        wanted = {f: values[f] for f in kind.editable if f in values}
        saved, created, changes = row_upsert(kind.model, {kind.key: table[kind.key]}, wanted)
        if members and isinstance(saved, Queue):
            changes |= memberships_set(queue=saved, edits=members)
        targets_changed()
        if changes:
            audit_record(
                action=f"{kind.name}.{'created' if created else 'changed'}",
                actor=actor,
                queue=saved if isinstance(saved, Queue) else None,  # the queue's own chain
                data={"object": kind.name, "name": str(saved), "changes": changes},
            )
    return saved


def queue_save(
    *,
    queue_id: int | None,
    values: Mapping[str, Any],
    members: Sequence[MemberEdit] = (),
    actor: Actor,
) -> Queue:
    """Create a queue (`queue_id` None, `values` with its `slug`) or change one, and edit its
    members, in one transaction.

    `values` are model fields; the slug of an existing queue, its stage and its breaker's
    state are not changed here. Refused (ValidationFailed, errors keyed by model field) when
    the queue would break a rule of config_check or a member may not be one (an auditor).
    Audited: one `queue.created` / `queue.changed` in the queue's chain, with every changed
    field and member (`member <username>`) before and after.
    """
    saved: Queue = _save(QUEUE, obj_id=queue_id, values=values, actor=actor, members=members)
    return saved


def action_type_save(
    *, action_type_id: int | None, values: Mapping[str, Any], actor: Actor
) -> ActionType:
    """Create an action type (`values` with its `name`) or change one, refused as apply_config
    refuses it (a webhook needs an allowed URL and a usable signing key; the payload schema
    must be valid JSON Schema). Audited: `action_type.created` / `action_type.changed`."""
    saved: ActionType = _save(ACTION_TYPE, obj_id=action_type_id, values=values, actor=actor)
    return saved


def source_save(*, source_id: int | None, values: Mapping[str, Any], actor: Actor) -> Source:
    """Create a source (`values` with its `name`) or change its callback URL, signing key
    variable or activity, refused as apply_config refuses it. Audited: `source.created` /
    `source.changed`."""
    saved: Source = _save(SOURCE, obj_id=source_id, values=values, actor=actor)
    return saved


def config_delete(*, obj: Queue | ActionType | Source | User, actor: Actor) -> None:
    """Delete a configuration row or a person (the database refuses rows the record or a
    recommendation still points at). Audited: `<kind>.deleted` with every field's last
    value (in no queue's chain: the queue may be the row that goes)."""
    kind = KINDS[type(obj)].name if type(obj) in KINDS else "user"
    with transaction.atomic():
        row = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        changes = {
            f.attname: (
                {"changed": True}
                if f.attname in SECRET_FIELDS
                else {"before": jsonable(getattr(row, f.attname)), "after": None}
            )
            for f in row._meta.concrete_fields
            if not f.primary_key
        }
        if isinstance(row, Queue):
            for username, role in Membership.objects.filter(queue=row).values_list(
                "user__username", "role"
            ):
                changes[f"member {username}"] = {"before": role, "after": None}
        name = str(row)
        row.delete()
        targets_changed()
        audit_record(
            action=f"{kind}.deleted",
            actor=actor,
            data={"object": kind, "name": name, "changes": changes},
        )
