"""What a gunicorn config calls for logs and metrics (config/gunicorn.conf.py):

    from reviewqueue.observability.gunicorn_hooks import (
        child_exit, gunicorn_logconfig_dict, on_starting,
    )
    logconfig_dict = gunicorn_logconfig_dict()   # gunicorn's own lines as JSON too
    accesslog = None   # optional: each request already has a `request_finished` line

`on_starting` runs in the master before any worker exists: it gives this server its own
directory of metric files (and removes those of servers and processes that are gone), so
that the workers, forked afterwards, write there. `child_exit` folds an exited worker's
counts into the server's archive files: totals never go down while the server runs, and
recycling workers (`max_requests`) does not pile up files for the scrape to read.

Nothing here imports Django: the master loads this before the app (unless preload_app).
"""

import os
from typing import Any

from config.logging import logging_config
from reviewqueue.observability import multiproc


def on_starting(server: Any) -> None:
    multiproc.group_start("web")


def child_exit(server: Any, worker: Any) -> None:
    multiproc.child_exited(worker.pid)


def gunicorn_logconfig_dict() -> dict[str, Any]:
    debug = os.environ.get("DJANGO_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    return logging_config(debug=debug)
