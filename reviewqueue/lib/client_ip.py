"""The client's address for per-address limits (login and bad-credential throttling)."""

from django.http import HttpRequest


def forwarded_client_ip(request: HttpRequest) -> str:
    """Behind our own reverse proxy (DJANGO_BEHIND_PROXY): the address the proxy appended
    last to X-Forwarded-For, which a client cannot forge (anything the client sent comes
    before it); without the header, the connection's address."""
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    return forwarded[-1] if forwarded else str(request.META.get("REMOTE_ADDR", ""))
