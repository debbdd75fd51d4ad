"""The executor registry: `webhook`, `noop`, and any Python callable a deployment names in
REVIEWQUEUE_EXECUTORS = {"name": "dotted.path.to.callable"}."""

from django.conf import settings
from django.utils.module_loading import import_string

from reviewqueue.executors.base import ActionRequest, ActionResult, Executor

BUILTIN = {
    "webhook": "reviewqueue.executors.webhook.execute",
    "noop": "reviewqueue.executors.noop.execute",
}


def get_executor(name: str) -> Executor:
    path = {**BUILTIN, **getattr(settings, "REVIEWQUEUE_EXECUTORS", {})}.get(name)
    if path is None:
        raise LookupError(f"unknown executor {name!r}")
    return import_string(path)  # type: ignore[no-any-return]


__all__ = ["ActionRequest", "ActionResult", "Executor", "get_executor"]
