"""Insert many rows of one model fast with PostgreSQL's COPY.

COPY streams rows without building a parameterised statement (Django's bulk_create makes
psycopg parse and bind one statement with ~30 parameters per row). Values go through each
field's own get_db_prep_save, so they are exactly what bulk_create would write; database
errors are wrapped as Django's (a unique violation is an IntegrityError). Primary keys that
the database generates are not read back: use it for rows nobody needs the id of right away.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import AutoField, BigAutoField, Field, ForeignKey, JSONField, Model, fields
from django.db.models.expressions import DatabaseDefault
from django.db.models.sql import InsertQuery
from psycopg.types.json import Jsonb

# Field classes (exactly these, not subclasses) whose get_db_prep_save gives back a value of
# this Python type unchanged on PostgreSQL: COPY can take the value as it is. Anything else,
# or a value of another type, goes through get_db_prep_save. A batch of 1,000 items is
# ~60,000 values; the full path costs ~6 us each (cProfile of the batch, issue 20).
_UNCHANGED: dict[type[Field[Any, Any]], type] = {
    fields.CharField: str,
    fields.TextField: str,
    fields.SlugField: str,
    fields.IntegerField: int,
    fields.BigIntegerField: int,
    fields.SmallIntegerField: int,
    fields.PositiveIntegerField: int,
    fields.PositiveSmallIntegerField: int,
    fields.PositiveBigIntegerField: int,
    fields.FloatField: float,
    fields.BooleanField: bool,
    fields.UUIDField: uuid.UUID,
    fields.AutoField: int,
    fields.BigAutoField: int,
    fields.SmallAutoField: int,
    fields.DateTimeField: datetime,
}


def _same_type(field: Field[Any, Any]) -> type | None:
    """The Python type a value of `field` is written as it is, or None."""
    while isinstance(field, ForeignKey):  # the id of the row it points at
        field = field.target_field
    return _UNCHANGED.get(type(field))


def _preparer(field: Field[Any, Any], db: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    prep = field.get_db_prep_save
    same = _same_type(field)
    null_is_null = not isinstance(field, JSONField)  # JSON's None may mean JSON null
    if same is datetime:

        def prepare_datetime(value: Any) -> Any:
            if value is None or (type(value) is datetime and value.tzinfo is not None):
                return value
            return prep(value, db)  # naive: Django's warning and conversion

        return prepare_datetime
    if type(field) is JSONField and field.encoder is None:

        def prepare_json(value: Any) -> Any:
            # What get_db_prep_save makes of a plain document, without its four calls.
            if type(value) is dict or type(value) is list:
                return Jsonb(value)
            return prep(value, db)

        return prepare_json
    if same is not None:

        def prepare_same(value: Any) -> Any:
            if type(value) is same or (value is None and null_is_null):
                return value
            return prep(value, db)

        return prepare_same
    return lambda value: prep(value, db)


@cache
def _fields(model: type[Model]) -> list[tuple[Field[Any, Any], str, str]]:
    return [(f, f.attname, f.name) for f in model._meta.concrete_fields]


def new_row[M: Model](model: type[M], /, **values: Any) -> M:
    """`model(**values)`, built the way the ORM builds a loaded row (positional values in
    field order), ~3x faster: an ingest batch builds 1,000 items, and keyword arguments
    cost 20 us each. `values` by field name or attname; a foreign key given as an object
    is cached on the row as the keyword form would. A field left out gets its default."""
    args = []
    related = []
    for field, attname, name in _fields(model):
        if attname in values:
            args.append(values.pop(attname))
        elif name in values:
            obj = values.pop(name)
            args.append(None if obj is None else obj.pk)
            related.append((field, obj))
        else:
            args.append(field.get_default())
    if values:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(values))}")
    row = model(*args)
    for field, obj in related:
        field.set_cached_value(row, obj)  # type: ignore[attr-defined]
    return row


def bulk_insert(model: type[Model], objs: Sequence[Model]) -> None:
    if not objs:
        return
    # The connection itself, not the `connection` proxy: a field's preparation reads it
    # several times per value.
    db = connections[DEFAULT_DB_ALIAS]
    fields_ = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, AutoField | BigAutoField))
        # Left to the database (db_default), as bulk_create does; e.g. the audit chain.
        and not all(isinstance(getattr(obj, f.attname), DatabaseDefault) for obj in objs)
    ]
    columns = ", ".join(db.ops.quote_name(str(f.column)) for f in fields_)
    table = db.ops.quote_name(model._meta.db_table)
    prepared = [(f.attname, _preparer(f, db)) for f in fields_]
    with (
        db.cursor() as cursor,
        db.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objs:
            copy.write_row([prepare(getattr(obj, attname)) for attname, prepare in prepared])


def insert_together(objs: Sequence[Model], *, returning_pk: bool = False) -> Any:
    """INSERT several new rows in one statement and one round trip, each row only once the
    one before it is in:

        WITH s0 AS (INSERT INTO a ... RETURNING 1) INSERT INTO b (...) SELECT ... FROM s0

    The order matters for locks. A data-modifying WITH runs its parts in no set order, so
    with plain VALUES a later row's triggers (the audit chain head's row lock) could run
    before an earlier row's unique check, which waits for a concurrent writer of the same
    key: two transactions waiting on each other, a deadlock. Chained, a later row takes its
    locks only after the earlier one passed its constraints. Columns left to the database
    (db_default) are left out. Database-generated primary keys are not read back, but for
    the last row's with `returning_pk` (the return value; else None). The
    statement is atomic by itself; inside a caller's transaction a failure aborts that
    transaction, so let the error leave its atomic block (ingest reads the winner after).
    """
    statements: list[tuple[str, list[Any]]] = []
    for obj in objs:
        model = type(obj)
        fields = [
            f
            for f in model._meta.concrete_fields
            if not (f.primary_key and isinstance(f, AutoField | BigAutoField))
            and not isinstance(getattr(obj, f.attname), DatabaseDefault)
        ]
        query = InsertQuery(model)
        query.insert_values(fields, [obj])
        ((compiled, compiled_params),) = query.get_compiler(connection=connection).as_sql()
        statements.append((compiled, list(compiled_params)))
    parts: list[str] = []
    params: list[Any] = []
    for i, (sql, ps) in enumerate(statements):
        if i:
            head, values = sql.split(" VALUES (", 1)
            assert values.endswith(")"), sql
            # Django's own compiled SQL with placeholders; the values stay parameters.
            sql = f"{head} SELECT {values[:-1]} FROM s{i - 1}"  # noqa: S608
        if i < len(statements) - 1:
            sql = f"s{i} AS ({sql} RETURNING 1)"
        parts.append(sql)
        params += ps
    *ctes, last = parts
    sql = f"WITH {', '.join(ctes)} {last}" if ctes else last
    if returning_pk:
        meta = type(objs[-1])._meta
        sql += f" RETURNING {connection.ops.quote_name(str(meta.pk.column))}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0] if returning_pk else None
