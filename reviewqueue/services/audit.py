"""The audit trail. Every service writes its event through here, inside its transaction.

The database numbers and hash-chains each event as it is inserted (models/audit.py), taking
a lock on the chain's head row (one chain per queue) until the transaction commits. Hence:
write audit events late in a transaction, and a transaction that writes events of several
queues must write them in chain order (`audit_chain_order`), so that two such transactions
never wait for each other's heads in opposite orders (a deadlock).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Field

from reviewqueue.models import AuditEvent, Queue, Recommendation, Source, User

# The fields a writer that must stay one SQL statement sets (the claim, a move, an
# execution's finish); the trigger fills the chain, seq and hash as for any other row.
_AUDIT_INSERT_FIELDS: "list[Field[Any, Any]]" = [
    AuditEvent._meta.get_field(name)  # type: ignore[misc]
    for name in (
        "occurred_at",
        "actor_kind",
        "actor_user",
        "actor_source",
        "actor_label",
        "action",
        "recommendation",
        "queue",
        "model_name",
        "model_version",
        "prompt_version",
        "data",
    )
]
# The head of such a writer's INSERT ... SELECT (see `audit_insert_values`).
AUDIT_INSERT = (
    f"INSERT INTO {AuditEvent._meta.db_table}"
    f" ({', '.join(str(field.column) for field in _AUDIT_INSERT_FIELDS)})"
)


@dataclass(frozen=True)
class Actor:
    kind: str  # user | source | system
    label: str
    user: User | None = None
    source: Source | None = None

    @classmethod
    def of_user(cls, user: User) -> "Actor":
        return cls(kind="user", label=user.get_username(), user=user)

    @classmethod
    def of_source(cls, source: Source) -> "Actor":
        return cls(kind="source", label=source.name, source=source)

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(kind="system", label=label)


def audit_event(
    *,
    action: str,
    actor: Actor,
    recommendation: Recommendation | None = None,
    queue: Queue | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """An unsaved event (for `audit_records`); `audit_record` saves one. `recommendation`
    may be a partly loaded row: only its pk, queue id and model fields are read."""
    rec = recommendation
    return AuditEvent(
        action=action,
        actor_kind=actor.kind,
        actor_label=actor.label,
        actor_user=actor.user,
        actor_source=actor.source,
        recommendation=rec,
        queue_id=queue.pk if queue is not None else (rec.queue_id if rec is not None else None),
        model_name=rec.model_name if rec else "",
        model_version=rec.model_version if rec else "",
        prompt_version=rec.prompt_version if rec else "",
        data=data or {},
    )


def audit_record(**kwargs: Any) -> AuditEvent:
    """Save one event; the returned event carries the chain, seq and hash the database set."""
    event = audit_event(**kwargs)
    event.save(force_insert=True)
    return event


def audit_records(events: Iterable[AuditEvent]) -> None:
    """Save many events in one statement, in chain order (see the module docstring)."""
    ordered = audit_chain_order(events)
    if ordered:
        AuditEvent.objects.bulk_create(ordered)


def audit_recommendations(
    *,
    action: str,
    actor: Actor,
    recommendations: Sequence[Recommendation],
    data_fields: Sequence[str],
    at: datetime,
) -> None:
    """One event per recommendation, already stored, in one INSERT ... SELECT: the event's
    data are those of its fields (`data_fields`, read from the stored row), in chain order
    and within a chain in the order given. For a large batch this replaces building, saving
    and streaming an AuditEvent per item (an ingest batch of 1,000: ~20% of its time). The
    rows are what `audit_event` would make of the same values; the trigger chains them."""
    if not recommendations:
        return
    from django.db import connection

    rec = Recommendation._meta
    columns = {f.name: f.column for f in rec.concrete_fields}
    data = ", ".join(f"'{name}', r.{columns[name]}" for name in data_fields)
    given: dict[str, tuple[str, Any]] = {
        "occurred_at": ("CAST(%s AS timestamptz)", at),
        "actor_kind": ("CAST(%s AS varchar)", actor.kind),
        "actor_user": ("CAST(%s AS bigint)", actor.user.pk if actor.user else None),
        "actor_source": ("CAST(%s AS bigint)", actor.source.pk if actor.source else None),
        "actor_label": ("CAST(%s AS varchar)", actor.label),
        "action": ("CAST(%s AS varchar)", action),
    }
    from_row = {
        "recommendation": "r.id",
        "queue": "r.queue_id",
        "model_name": "r.model_name",
        "model_version": "r.model_version",
        "prompt_version": "r.prompt_version",
        "data": f"jsonb_build_object({data})",
    }
    names = [field.name for field in _AUDIT_INSERT_FIELDS]
    select = ", ".join(given[n][0] if n in given else from_row[n] for n in names)
    sql = f"""
        {AUDIT_INSERT}
        SELECT {select}
        FROM unnest(CAST(%s AS uuid[])) WITH ORDINALITY AS given(id, n)
        JOIN {rec.db_table} r ON r.id = given.id
        ORDER BY r.queue_id, given.n
    """  # noqa: S608 - constant text (tables, columns of the model); the values are parameters
    params = [given[n][1] for n in names if n in given]
    params.append([r.pk for r in recommendations])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def audit_chain_order(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """`events` in the order to insert them: by chain (stable within one), so every
    multi-queue writer takes the chain heads' locks in the same order."""
    return sorted(events, key=lambda e: e.queue_id or 0)


def audit_insert_values(event: AuditEvent) -> tuple[str, list[Any]]:
    """For a writer that must stay one SQL statement and audits in it (a CTE after
    AUDIT_INSERT): the select list that writes `event` (from `audit_event`) and its
    parameters, each as the ORM would save it and cast to its column's type (so the text
    can also be a server-side prepared statement). Append `FROM <the CTE that moved the
    row>` so the event is written only when the row moved; the trigger chains it as any
    other row."""
    from django.db import connection

    casts = [f"CAST(%s AS {field.db_type(connection)})" for field in _AUDIT_INSERT_FIELDS]
    params = [
        field.get_db_prep_save(getattr(event, field.attname), connection)
        for field in _AUDIT_INSERT_FIELDS
    ]
    return "SELECT " + ", ".join(casts), params
