"""Server-side prepared statements for a few hot statements (the execution's claim and finish).

Django sends each statement as text with its parameters bound by the client, so PostgreSQL
parses and plans it every time; for a statement of several CTEs that is much of its cost.
`execute` PREPAREs a statement once per database session and then sends only
`EXECUTE name(params)`. Which statements a session has prepared is remembered per psycopg
connection object (weakly): a reconnect (a broken connection dropped, CONN_MAX_AGE, a
restarted server) is a new object, so its statements are prepared again. PREPARE is not
undone by a rollback, so a failed transaction does not lose one either.

The SQL uses `%s` placeholders, each cast to its type where PostgreSQL cannot infer it
(`CAST(%s AS integer)`): a prepared statement's parameter types are fixed when it is
prepared. Only constant text goes into the statement; values are always parameters.
"""

import re
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# psycopg connection -> the names prepared in its session.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def numbered(sql: str) -> str:
    """`sql` with its `%s` placeholders as PostgreSQL's `$1`, `$2`, ... (and `%%` as `%`)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%"
        count += 1
        return f"${count}"

    return re.sub(r"%%|%s", number, sql)


def execute(cursor: CursorWrapper, name: str, sql: str, params: Sequence[Any]) -> None:
    """Run `sql` with `params` on `cursor` (of the default connection) as the prepared
    statement `name`, preparing it first if this session has not. Read the result from
    `cursor` as after `cursor.execute`."""
    assert _NAME.match(name), name
    raw = connection.connection  # the cursor exists, so the session does
    names = _prepared.get(raw)
    if names is None:
        names = _prepared[raw] = set()
    if name not in names:
        cursor.execute(f"PREPARE {name} AS {numbered(sql)}")
        names.add(name)
    placeholders = ", ".join(["%s"] * len(params))
    cursor.execute(f"EXECUTE {name}({placeholders})" if params else f"EXECUTE {name}", params)
