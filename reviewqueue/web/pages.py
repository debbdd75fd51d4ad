"""Shared bits of the reviewer pages: the signed-in user, htmx-aware rendering, the home
redirect. The screens live in queues.py, review.py and recommendations.py."""

from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.middleware import HtmxDetails

from reviewqueue.models import User


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def current_user(request: HttpRequest) -> User:
    """The signed-in user (views are behind login_required)."""
    return cast(User, request.user)


def render_page(
    request: HtmxHttpRequest,
    template: str,
    partial: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """The whole page, or for htmx only the region `partial` (its element has that id)."""
    name = f"{template}#{partial}" if request.htmx else template
    return render(request, name, context, status=status)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("queues" if request.user.is_authenticated else "login")
