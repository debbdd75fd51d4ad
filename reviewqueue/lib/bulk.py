"""Insert many rows of one model fast: PostgreSQL COPY, else Django's bulk_create.

COPY streams rows without building a parameterised statement (Django's bulk_create makes
psycopg parse and bind one statement with ~30 parameters per row). Values go through each
field's own get_db_prep_save, so they are exactly what bulk_create would write; database
errors are wrapped as Django's (a unique violation is an IntegrityError). Primary keys that
the database generates are not read back: use it for rows nobody needs the id of right away.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import AutoField, BigAutoField, Model


def bulk_insert(model: type[Model], objs: Sequence[Model]) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)
        return
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, AutoField | BigAutoField))
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
