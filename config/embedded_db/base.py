"""PostgreSQL's backend that makes sure the embedded server runs before it connects.

Every new connection checks that the server's postmaster is alive (a read of
postmaster.pid and /proc, no query) and starts it when it is not: the first connection of
a process starts the server if nobody else has, and a server that was killed comes back at
the next connection instead of needing the app restarted. The process is registered as a
holder once; when it exits and no other live holder is left, the server stops.
"""

import atexit
import contextlib
import os
import threading
from typing import Any

from django.conf import settings
from django.db import OperationalError
from django.db.backends.postgresql import base

from config.embedded_db.client import DatabaseClient
from config.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError

_server: EmbeddedPostgres | None = None
_registered_pid: int | None = None
_guard = threading.Lock()


def embedded_server() -> EmbeddedPostgres:
    global _server
    if _server is None:
        _server = EmbeddedPostgres(settings.VAR_DIR)
    return _server


def ensure_server() -> EmbeddedPostgres:
    """The embedded server, running, with this process registered as one of its holders."""
    global _registered_pid
    server = embedded_server()
    pid = os.getpid()
    if _registered_pid == pid and server.running_pid() is not None:
        return server
    with _guard:
        try:
            server.ensure_running(holder=pid)
        except EmbeddedPostgresError as exc:
            # Django (and our 503 middleware) know what to do with an OperationalError.
            raise OperationalError(f"the embedded PostgreSQL did not start: {exc}") from exc
        if _registered_pid != pid:
            _registered_pid = pid
            atexit.register(_release, pid)
    return server


def _release(pid: int) -> None:
    # A forked child inherits this handler with its parent's pid: only the registrant acts.
    if os.getpid() == pid and _server is not None:
        # Exiting anyway: if this fails, the next holder's start or release settles it.
        with contextlib.suppress(EmbeddedPostgresError, OSError):
            _server.release(pid)


class DatabaseWrapper(base.DatabaseWrapper):
    client_class = DatabaseClient

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        ensure_server()
        return super().get_new_connection(conn_params)
