"""Signing in, with failed attempts throttled per username and per client address.

Both sign-in forms (the app's /login/ and the Django admin's) go through `login_throttled`.
Only failures count: a POST the form answers with itself again (200) rather than with a
redirect. Once a username or an address has used up its failures for the window, every
sign-in POST for it answers 429 with a plain page and `Retry-After`, before the password is
looked at: a right password then gets the same answer as a wrong one, so a guesser learns
nothing by going on. The counters are fixed windows in PostgreSQL (services/ratelimit.py),
shared by every process; when they cannot be reached, sign-in stays open.

Behind a proxy, set DJANGO_BEHIND_PROXY, or every client shares the proxy's address (and its
budget).
"""

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from reviewqueue.services.ratelimit import (
    client_address,
    limit_key,
    rate_limit_hit,
    rate_limit_peek,
)

View = Callable[..., HttpResponseBase]


def _limits(request: HttpRequest) -> dict[str, str]:
    """{counter key: rate} for each counter this sign-in attempt counts against."""
    limits = {limit_key("login-ip", client_address(request)): settings.REVIEWQUEUE_LOGIN_RATE_IP}
    # Case-folded: usernames differing only in case share one budget.
    username = str(request.POST.get("username", "")).strip().casefold()
    if username:
        limits[limit_key("login-user", username)] = settings.REVIEWQUEUE_LOGIN_RATE_USER
    return limits


def login_wait(request: HttpRequest) -> int | None:
    """Seconds until this sign-in attempt may be made, or None when it may be made now."""
    waits = [u.retry_after for u in rate_limit_peek(_limits(request)) if u.used_up]
    return max(waits) if waits else None


def login_failed(request: HttpRequest) -> None:
    """Count one failed sign-in against the username and the client address."""
    rate_limit_hit(_limits(request))


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
