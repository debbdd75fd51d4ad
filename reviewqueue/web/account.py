"""The signed-in person's settings page: which notifications they get by email, their
personal API tokens, each with a revoke button, and a form to create one (shown once, on
the page that answers the POST)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from reviewqueue.domain.notifications import EVENT_LABELS
from reviewqueue.exceptions import ValidationFailed
from reviewqueue.models.config import TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX
from reviewqueue.selectors.notifications import email_events_of
from reviewqueue.selectors.tokens import personal_tokens_of
from reviewqueue.services.audit import Actor
from reviewqueue.services.notifications import notification_preferences_save
from reviewqueue.services.tokens import personal_token_create, personal_token_revoke
from reviewqueue.web.pages import current_user

TEMPLATE = "reviewqueue/settings/page.html"


def _page(request: HttpRequest, status: int = 200, **extra: object) -> HttpResponse:
    user = current_user(request)
    chosen = email_events_of([user])[user.pk]
    context = {
        "nav": "settings",
        "events": [(e.value, label, e in chosen) for e, label in EVENT_LABELS.items()],
        "tokens": personal_tokens_of(user=user),
        "now": timezone.now(),
        "days_default": TOKEN_DAYS_DEFAULT,
        "days_max": TOKEN_DAYS_MAX,
        **extra,
    }
    response = render(request, TEMPLATE, context, status=status)
    add_never_cache_headers(response)  # a new token is on this page once; never cache it
    return response


@login_required
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def notifications_save(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    notification_preferences_save(user=user, email_events=request.POST.getlist("email_events"))
    messages.success(request, "Your notification choices are saved.")
    return redirect("settings")


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Not a redirect: the token is shown once, on this response, and never stored."""
    user = current_user(request)
    try:
        days = int(request.POST.get("days") or TOKEN_DAYS_DEFAULT)
        token, plain = personal_token_create(
            user=user,
            name=request.POST.get("name", "")[:100],
            days=days,
            actor=Actor.of_user(user),
        )
    except ValueError:
        return _page(request, status=400, error=f"Days: a number from 1 to {TOKEN_DAYS_MAX}.")
    except ValidationFailed as exc:
        return _page(request, status=400, error=exc.detail)
    return _page(request, new_token=plain, new_prefix=token.prefix)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = current_user(request)
    personal_token_revoke(token_id=token_id, user=user, actor=Actor.of_user(user))
    return redirect("settings")
