"""A query planned for its values on every run.

With server-side binding (config/settings.py, DATABASE_PREPARED_STATEMENTS) psycopg
prepares a statement from its second run, and PostgreSQL may then settle on one generic
plan, chosen on the statistics of that moment, for every later run on the connection. That
is what makes the lists fast. It is wrong for a lookup of many keys on a table that grows
under it: the batch ingest's replay lookup (up to 1,000 external ids), prepared while the
table was nearly empty, kept walking the source's whole history by the wrong index instead
of the unique one, ~1 s per batch at 60k items, until the connection was replaced.
"""

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet


def rows_unprepared(queryset: "QuerySet[Any, Any]") -> list[tuple[Any, ...]]:
    """The rows of a `values_list()` queryset (raw column values, no converters: for
    columns psycopg already returns as Python values), planned for these values."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. `__in=[]`: the ORM answers without asking the database
        return []
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.cursor.execute(sql, params, prepare=False)
        return list(cursor.fetchall())
