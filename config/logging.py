"""Logging: one structured line per event, for our code and for everyone else's.

`logging_config()` configures structlog and returns the dict for Django's LOGGING (also used
by the Celery worker through its `setup_logging` signal, and by gunicorn as
`logconfig_dict`). Every line carries `timestamp` (ISO 8601, UTC), `level`, `logger` and
`event`, plus whatever is bound to the context: `request_id` (and `user_id`, `ip`) in a web
request, `task_id` and the `request_id` of the request that queued it in a Celery task, and
`recommendation_id` wherever one item is being worked on.

Standard-library loggers (Django, Celery, gunicorn, our own `logging.getLogger` calls) go
through the same renderer (structlog's ProcessorFormatter), so the whole stream is one
format: JSON lines by default, a readable console format when `REVIEWQUEUE_LOG_FORMAT=console`
or, unless the variable says otherwise, when DJANGO_DEBUG is on.

Importable without Django (gunicorn's master process reads it before any app is loaded).
"""

import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_TIMESTAMP = structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp")

# What every line gets, whoever logged it: the bound context (request_id, task_id,
# recommendation_id...), the level, the logger's name, the time.
_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _TIMESTAMP,
]


def _drop_enqueue_lines(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """django-structlog logs `task_enqueued` for every task a process publishes: two lines per
    decision, and a screenful for a script. The task's own lines carry the publishing
    request's id, so these add nothing; they are kept at LOG_LEVEL=DEBUG."""
    if event_dict.get("event") == "task_enqueued":
        raise structlog.DropEvent
    return event_dict


def log_format(*, debug: bool) -> str:
    """`json` or `console`: REVIEWQUEUE_LOG_FORMAT, else console in debug, json otherwise."""
    chosen = os.environ.get("REVIEWQUEUE_LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "console"):
        return chosen
    return "console" if debug else "json"


def _renderer(fmt: str) -> list[Any]:
    if fmt == "console":
        # Readable tracebacks, also without local variables.
        formatter = (
            structlog.dev.RichTracebackFormatter(show_locals=False)
            if getattr(structlog.dev, "rich", None) is not None
            else structlog.dev.plain_traceback
        )
        return [
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=formatter)
        ]
    # Tracebacks as structured data inside the one JSON line, never as extra lines; without
    # the frames' local variables (keys, tokens, payloads must not end up in the logs).
    tracebacks = structlog.processors.ExceptionRenderer(
        structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
    )
    return [tracebacks, structlog.processors.JSONRenderer()]


def logging_config(*, debug: bool, level: str | None = None) -> dict[str, Any]:
    """Configure structlog and return the matching `logging.config.dictConfig` dict."""
    fmt = log_format(debug=debug)
    level = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    structlog.configure(
        processors=[
            # Cheap early exit for lines below the logger's level (e.g. DEBUG in production).
            structlog.stdlib.filter_by_level,
            *([] if level == "DEBUG" else [_drop_enqueue_lines]),
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [*_SHARED, structlog.stdlib.ExtraAdder()],
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *_renderer(fmt),
                ],
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own handlers (plain text in debug, mail_admins) are replaced by ours:
            # its records propagate to the root handler like everyone else's.
            "django": {"level": level, "handlers": [], "propagate": True},
            "django.server": {"level": level, "handlers": [], "propagate": True},
            "django.db.backends": {"level": "INFO"},
            # Its 4xx warnings ("Not Found: ...") repeat `request_finished`, without the
            # request id (they come after the context is cleared): errors only.
            "django.request": {"level": "ERROR"},
            # gunicorn's loggers do not propagate; give them our handler.
            "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
