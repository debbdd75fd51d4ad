"""Signing in, with failed attempts throttled per username and per client address.

Both sign-in forms (the app's /login/ and the Django admin's) go through `login_throttled`.
Only failures count: a POST the form answers with itself again (200) rather than with a
redirect. Once a username or an address has used up its failures for the window, every
sign-in POST for it answers 429 with a plain page and `Retry-After`, before the password is
looked at: a right password then gets the same answer as a wrong one, so a guesser learns
nothing by going on. The counters are django-ratelimit's fixed windows in the shared cache
(Redis in production); when the cache does not answer, sign-in stays open.

Behind a proxy, set django-ratelimit's RATELIMIT_IP_META_KEY, or every client shares the
proxy's address (and its budget).
"""

import logging
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django_ratelimit.core import get_usage

log = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]
GROUP = "login"


def _username(group: str, request: HttpRequest) -> str:
    # Case-folded: usernames differing only in case share one budget.
    return "user:" + str(request.POST.get("username", "")).strip().casefold()


def _counters(request: HttpRequest) -> list[tuple[str | Callable[..., str], str]]:
    """(django-ratelimit key, rate) for each counter this request counts against."""
    counters: list[tuple[str | Callable[..., str], str]] = [
        ("ip", settings.REVIEWQUEUE_LOGIN_RATE_IP)
    ]
    if str(request.POST.get("username", "")).strip():
        counters.append((_username, settings.REVIEWQUEUE_LOGIN_RATE_USER))
    return counters


def _usage(request: HttpRequest, *, increment: bool) -> list[dict[str, Any]]:
    found = []
    for key, rate in _counters(request):
        try:
            usage = get_usage(request, group=GROUP, key=key, rate=rate, increment=increment)
        except Exception:  # the cache is down: fail open, as the API's rate limit does
            log.warning("login throttle: the cache did not answer", exc_info=True)
            continue
        if usage is not None:
            found.append(usage)
    return found


def login_wait(request: HttpRequest) -> int | None:
    """Seconds until this sign-in attempt may be made, or None when it may be made now."""
    waits = [u["time_left"] for u in _usage(request, increment=False) if u["count"] >= u["limit"]]
    return max(1, max(waits)) if waits else None


def login_failed(request: HttpRequest) -> None:
    """Count one failed sign-in against the username and the client address."""
    _usage(request, increment=True)


def _too_many(request: HttpRequest, wait: int) -> HttpResponse:
    minutes = math.ceil(wait / 60)
    context = {"minutes": minutes, "seconds": wait}
    response = render(request, "registration/login_throttled.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


def login_throttled(view: View) -> View:
    """Wrap a sign-in view: refuse POSTs over the limit (429), count the failed ones."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        wait = login_wait(request)
        if wait is not None:
            return _too_many(request, wait)
        response = view(request, *args, **kwargs)
        if response.status_code == 200:  # the form again, with its errors: a failure
            login_failed(request)
        return response

    return wrapper


login = login_throttled(auth_views.LoginView.as_view(redirect_authenticated_user=True))
admin_login = login_throttled(admin.site.login)
