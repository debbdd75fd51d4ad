"""The request's log context: django-structlog's RequestMiddleware (request_id, user_id and
ip on every line, one `request_finished` line per request, the context handed on to Celery
tasks queued by the request), plus what we add:

- the request id is the caller's `X-Request-ID` when it looks like an id (letters, digits,
  `._:-`, at most 128 characters: nothing that could forge or flood a log line), else a
  fresh UUID; the response carries it back in `X-Request-ID`;
- item-level URLs (every route with a `recommendation_id`) bind it to the context, so
  every line of the request, and the tasks it queues, name the item.
"""

import contextlib
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse
from django_structlog.app_settings import app_settings
from django_structlog.middlewares import RequestMiddleware

from reviewqueue.observability.context import bind_recommendation

_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_started = logging.getLogger("django_structlog.middlewares.request")


def request_id_for(supplied: str | None) -> str:
    if supplied and _ACCEPTABLE_ID.fullmatch(supplied):
        return supplied
    return str(uuid.uuid4())


class RequestLogMiddleware(RequestMiddleware):
    """Needs DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True: the id is settled here,
    before django-structlog reads the header."""

    sync_capable = True
    async_capable = False  # a WSGI app; Django adapts if it is ever served over ASGI

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Nothing bound before this request (in this thread) may leak into its lines.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(ip=request.META.get("REMOTE_ADDR"))
        request_id = request_id_for(request.META.get("HTTP_X_REQUEST_ID"))
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.__dict__.pop("headers", None)  # re-read from META if something cached them
        response: HttpResponse = super().__call__(request)  # type: ignore[assignment]
        response["X-Request-ID"] = request_id
        return response

    def prepare(self, request: HttpRequest) -> None:
        # django-structlog's own prepare() also builds and sends a `request_started` line,
        # which is off by default (DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL): when it would be
        # dropped, bind the id and skip the rest (~20 us a request).
        if _started.isEnabledFor(app_settings.STATUS_START_LOG_LEVEL):
            super().prepare(request)
        else:
            structlog.contextvars.bind_contextvars(request_id=request.META["HTTP_X_REQUEST_ID"])

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        value = view_kwargs.get("recommendation_id")
        if value is None:
            return
        # <str:...> routes take anything: only a real id goes into the logs.
        with contextlib.suppress(ValueError):
            bind_recommendation(value if isinstance(value, uuid.UUID) else uuid.UUID(value))
