"""Insert many rows of one model fast with PostgreSQL's COPY.

COPY streams rows without building a parameterised statement (Django's bulk_create makes
psycopg parse and bind one statement with ~30 parameters per row). Values go through each
field's own get_db_prep_save, so they are exactly what bulk_create would write; database
errors are wrapped as Django's (a unique violation is an IntegrityError). Primary keys that
the database generates are not read back: use it for rows nobody needs the id of right away.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import AutoField, BigAutoField, Model
from django.db.models.expressions import DatabaseDefault
from django.db.models.sql import InsertQuery


def bulk_insert(model: type[Model], objs: Sequence[Model]) -> None:
    if not objs:
        return
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, AutoField | BigAutoField))
        # Left to the database (db_default), as bulk_create does; e.g. the audit chain.
        and not all(isinstance(getattr(obj, f.attname), DatabaseDefault) for obj in objs)
    ]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objs:
            copy.write_row(
                [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            )


def insert_together(objs: Sequence[Model]) -> None:
    """INSERT several new rows atomically in one round trip.

    The rows go in one statement (`WITH s0 AS (INSERT ...) INSERT ...`), atomic by itself,
    so there is no transaction to begin and commit. Database-generated primary keys are not
    read back.
    """
    statements: list[tuple[str, tuple[Any, ...]]] = []
    for obj in objs:
        model = type(obj)
        fields = [
            f
            for f in model._meta.concrete_fields
            if not (f.primary_key and isinstance(f, AutoField | BigAutoField))
        ]
        query = InsertQuery(model)
        query.insert_values(fields, [obj])
        ((sql, params),) = query.get_compiler(connection=connection).as_sql()
        statements.append((sql, tuple(params)))
    *head, (last_sql, last_params) = statements
    prefix = ", ".join(f"s{i} AS ({sql})" for i, (sql, _) in enumerate(head))
    sql = f"WITH {prefix} {last_sql}" if head else last_sql
    params = [p for _, ps in head for p in ps] + list(last_params)
    if connection.in_atomic_block:
        # Inside a caller's transaction a failed statement must not poison it: savepoint.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
