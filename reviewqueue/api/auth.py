"""Who is calling: a source (API key, `Authorization: Bearer`) or a person (session or
personal token, `Authorization: Token`)."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from reviewqueue.lib import keys
from reviewqueue.models import ApiKey, PersonalToken, Source, User


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


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[SourcePrincipal, ApiKey] | None:
        plain = _bearer(request, "Bearer")
        if plain is None:
            return None
        prefix = keys.parse_prefix(plain, keys.SOURCE_KEY_KIND)
        key = (
            ApiKey.objects.select_related("source").filter(prefix=prefix).first()
            if prefix
            else None
        )
        now = timezone.now()
        if key is None or not keys.matches(plain, key.key_hash):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not key.source.is_active:
            raise exceptions.AuthenticationFailed("This API key's source is disabled.")
        touch_every = timedelta(seconds=settings.REVIEWQUEUE_KEY_TOUCH_SECONDS)
        if key.last_used_at is None or now - key.last_used_at >= touch_every:
            # Written at most once a minute per key, so ingest stays at four statements.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return SourcePrincipal(source=key.source), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="reviewqueue"'


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, PersonalToken] | None:
        plain = _bearer(request, "Token")
        if plain is None:
            return None
        prefix = keys.parse_prefix(plain, keys.PERSONAL_TOKEN_KIND)
        token = (
            PersonalToken.objects.select_related("user").filter(prefix=prefix).first()
            if prefix
            else None
        )
        if token is None or not keys.matches(plain, token.key_hash) or token.revoked_at:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is disabled.")
        now = timezone.now()
        touch_every = timedelta(seconds=settings.REVIEWQUEUE_KEY_TOUCH_SECONDS)
        if token.last_used_at is None or now - token.last_used_at >= touch_every:
            PersonalToken.objects.filter(pk=token.pk).update(last_used_at=now)
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
