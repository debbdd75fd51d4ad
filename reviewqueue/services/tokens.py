"""Personal API tokens: create, revoke, and revoke all of a person's when their credentials
change. The only code that changes PersonalToken rows. A token is shown once, when it is
created; only its SHA-256 is stored (lib/keys.py)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import NotFound, ValidationFailed
from reviewqueue.lib import keys
from reviewqueue.models import PersonalToken, User
from reviewqueue.models.config import TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX
from reviewqueue.services.audit import Actor, audit_record


def personal_token_create(
    *, user: User, name: str = "", days: int = TOKEN_DAYS_DEFAULT, actor: Actor
) -> tuple[PersonalToken, str]:
    """A personal API token for `user`, valid for `days` (1 to TOKEN_DAYS_MAX). Returns the
    row and the plain token, which is never stored. Audited: `token.created` (prefix and
    expiry, never the token)."""
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise ValidationFailed(
            f"A token lives 1 to {TOKEN_DAYS_MAX} days, not {days}.",
            errors={"days": f"Between 1 and {TOKEN_DAYS_MAX}."},
        )
    plain, prefix, digest = keys.generate(keys.PERSONAL_TOKEN_KIND)
    expires_at = timezone.now() + timedelta(days=days)
    with transaction.atomic():
        token = PersonalToken.objects.create(
            user=user, name=name, prefix=prefix, key_hash=digest, expires_at=expires_at
        )
        audit_record(
            action="token.created",
            actor=actor,
            data={
                "user": user.get_username(),
                "prefix": prefix,
                "name": name,
                "expires_at": expires_at.isoformat(),
            },
        )
    return token, plain


def personal_token_revoke(
    *, token_id: int, user: User | None, actor: Actor, reason: str = ""
) -> bool:
    """Revoke one token at once, if `user` may (access.may_revoke_token: its owner, or an
    admin; None is the installation's operator, revoke_token); anyone else hears NotFound,
    as for a token that does not exist. Revoking a
    revoked token changes nothing and is not recorded again. Returns whether this call
    revoked it. Audited: `token.revoked` (owner, prefix, reason)."""
    with transaction.atomic():
        token = (
            PersonalToken.objects.select_for_update()
            .select_related("user")
            .filter(pk=token_id)
            .first()
        )
        if token is None or (user is not None and not access.may_revoke_token(user, token)):
            raise NotFound("No such token.")
        if not reason:
            by_owner = user is not None and user.pk == token.user_id
            reason = "revoked by its owner" if by_owner else "revoked by an admin"
        changed = PersonalToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if changed:
            audit_record(
                action="token.revoked",
                actor=actor,
                data={"user": token.user.get_username(), "prefix": token.prefix, "reason": reason},
            )
    return bool(changed)


def personal_tokens_revoke_all(*, user: User, reason: str, actor: Actor) -> list[str]:
    """Revoke every token of `user` that is not revoked yet (expired ones too, so none comes
    back if an expiry is ever extended). Call it inside the transaction of the change that
    caused it. Returns the revoked prefixes. Audited: one `token.revoked` listing them
    (nothing when there were none)."""
    with transaction.atomic():
        live = PersonalToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        prefixes = sorted(live.values_list("prefix", flat=True))
        if not prefixes:
            return []
        PersonalToken.objects.filter(user=user, prefix__in=prefixes).update(
            revoked_at=timezone.now()
        )
        audit_record(
            action="token.revoked",
            actor=actor,
            data={"user": user.get_username(), "prefixes": prefixes, "reason": reason},
        )
    return prefixes
