"""Who is calling: a source (API key, `Authorization: Bearer`) or a person (session or
personal token, `Authorization: Token`)."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from reviewqueue.lib import keys
from reviewqueue.lib.lookup import by_unique_key
from reviewqueue.models import ApiKey, PersonalToken, Source, User
from reviewqueue.services.ratelimit import client_address, limit_key, rate_limit_hit


@dataclass
class SourcePrincipal:
    """request.user for a source: authenticated, but never a person."""

    source: Source
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None

    def __str__(self) -> str:
        return f"source:{self.source.name}"


def _bearer(request: Request, scheme: str) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    parts = header.split()
    if not parts or parts[0].lower() != scheme.lower():
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(
            f"Malformed Authorization header: use '{scheme} <key>'."
        )
    return parts[1]


def _touch(model: type[ApiKey] | type[PersonalToken], row: ApiKey | PersonalToken) -> None:
    # Written at most once a minute per key, so a request does not pay an UPDATE for it.
    now = timezone.now()
    touch_every = timedelta(seconds=settings.REVIEWQUEUE_KEY_TOUCH_SECONDS)
    if row.last_used_at is None or now - row.last_used_at >= touch_every:
        model.objects.filter(pk=row.pk).update(last_used_at=now)


def _lookup(
    request: Request, scheme: str, kind: str, model: type[ApiKey] | type[PersonalToken], owner: str
) -> tuple[str, Any] | None:
    """(plain key, row) for a key sent with `scheme`, None when none was sent; a key that
    does not match its stored hash fails."""
    plain = _bearer(request, scheme)
    if plain is None:
        return None
    prefix = keys.parse_prefix(plain, kind)
    row: ApiKey | PersonalToken | None = None
    if prefix:
        # cast: mypy joins the two models' querysets to Model.
        row = cast(
            "ApiKey | PersonalToken | None",
            by_unique_key(model.objects.select_related(owner).filter(prefix=prefix)),
        )
    if row is None or not keys.matches(plain, row.key_hash):
        _count_invalid(request)
        raise exceptions.AuthenticationFailed(
            f"Invalid {'API key' if scheme == 'Bearer' else 'token'}."
        )
    return plain, row


def _count_invalid(request: Request) -> None:
    """Count an invalid key or token against the client address (the sign-in forms' budget,
    REVIEWQUEUE_LOGIN_RATE_IP, in a counter of its own); over it, answer 429 with Retry-After
    instead of 401. Valid keys never touch the counter, so the hot path pays nothing for it.
    When the counter cannot be reached the answer stays 401 (services/ratelimit.py)."""
    address = client_address(request._request)
    usages = rate_limit_hit(
        {limit_key("api-credentials-ip", address): settings.REVIEWQUEUE_LOGIN_RATE_IP}
    )
    over = [u.retry_after for u in usages if u.over]
    if over:
        raise exceptions.Throttled(
            wait=max(over),
            detail="Too many invalid keys or tokens from this address; wait and try again.",
        )


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[SourcePrincipal, ApiKey] | None:
        found = _lookup(request, "Bearer", keys.SOURCE_KEY_KIND, ApiKey, "source")
        if found is None:
            return None
        key: ApiKey = found[1]
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not key.source.is_active:
            raise exceptions.AuthenticationFailed("This API key's source is disabled.")
        _touch(ApiKey, key)
        return SourcePrincipal(source=key.source), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="reviewqueue"'


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, PersonalToken] | None:
        found = _lookup(request, "Token", keys.PERSONAL_TOKEN_KIND, PersonalToken, "user")
        if found is None:
            return None
        token: PersonalToken = found[1]
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is disabled.")
        _touch(PersonalToken, token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="reviewqueue"'


class IsSource(permissions.BasePermission):
    """Only a source's API key may call ingest endpoints."""

    def has_permission(self, request: Request, view: object) -> bool:
        if isinstance(request.user, SourcePrincipal):
            return True
        if request.user is None or not getattr(request.user, "is_authenticated", False):
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <API key>'.")
        return False

    def has_object_permission(self, request: Request, view: object, obj: object) -> bool:
        return True
