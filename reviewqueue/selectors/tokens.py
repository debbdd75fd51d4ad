"""Reads of personal tokens: a person's own list (the settings page) and the admin's
command lookup. Never the hash."""

from django.db.models import Q, QuerySet

from reviewqueue.lib import keys
from reviewqueue.models import PersonalToken, User


def personal_tokens_of(*, user: User) -> QuerySet[PersonalToken]:
    """`user`'s tokens, newest first, revoked and expired ones included (marked so)."""
    return PersonalToken.objects.filter(user=user).defer("key_hash").order_by("-created_at", "-pk")


def personal_token_find(*, prefix_or_id: str) -> PersonalToken | None:
    """A token by its prefix (the `rqp_<prefix>_` part of the token, or the whole token) or its
    id, for revoke_token; None when nothing or more than one matches."""
    text = prefix_or_id.strip()
    parts = text.split("_", 2)
    if len(parts) >= 2 and parts[0] == keys.PERSONAL_TOKEN_KIND:
        text = parts[1]
    query = Q(prefix=text)
    if text.isdigit():
        query |= Q(pk=int(text))
    found = list(PersonalToken.objects.select_related("user").filter(query)[:2])
    return found[0] if len(found) == 1 else None
