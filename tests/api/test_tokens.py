"""Personal tokens (issue 14 #4): they expire, their owner or an admin revokes them (audited),
and a password or role change revokes them all. An expired or revoked token is 401."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from reviewqueue.lib import keys
from reviewqueue.models import AuditEvent, PersonalToken
from reviewqueue.services.audit import Actor
from reviewqueue.services.setup import user_create, user_password_recorded, user_update
from reviewqueue.services.tokens import personal_token_create

CLAIM = "/api/v1/queues/refunds/claim"


def client_with(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return client


def token_for(user, days: int = 90) -> tuple[PersonalToken, str]:
    return personal_token_create(user=user, days=days, actor=Actor.system("test"))


def test_a_token_expires_after_90_days_by_default(people):
    token, plain = token_for(people.reviewer)
    assert token.expires_at - timezone.now() > timedelta(days=89, hours=23)
    assert client_with(plain).post(CLAIM).status_code == 204
    with time_machine.travel(timezone.now() + timedelta(days=90, minutes=1)):
        response = client_with(plain).post(CLAIM)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_token_made_before_expiry_existed_expires_too(people):
    """What migration 0013 gives existing rows: the model's default lifetime."""
    plain, prefix, digest = keys.generate(keys.PERSONAL_TOKEN_KIND)
    token = PersonalToken.objects.create(user=people.reviewer, prefix=prefix, key_hash=digest)
    assert token.expires_at is not None
    with time_machine.travel(timezone.now() + timedelta(days=91)):
        assert client_with(plain).post(CLAIM).status_code == 401


def test_create_token_takes_days_and_stores_only_the_hash(people):
    out, err = StringIO(), StringIO()
    call_command("create_token", "rita", "--days", "7", stdout=out, stderr=err)
    plain = out.getvalue().strip().splitlines()[-1]
    token = PersonalToken.objects.get(user=people.reviewer)
    assert token.key_hash == keys.hash_key(plain) and plain not in token.key_hash
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)
    event = AuditEvent.objects.get(action="token.created")
    assert plain not in str(event.data) and event.data["prefix"] == token.prefix
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert client_with(plain).post(CLAIM).status_code == 401
    with pytest.raises(CommandError):
        call_command("create_token", "rita", "--days", "0", stdout=out, stderr=err)


def test_revoke_token_command_revokes_at_once_and_is_audited(people):
    token, plain = token_for(people.reviewer)
    assert client_with(plain).post(CLAIM).status_code == 204
    out = StringIO()
    call_command("revoke_token", token.prefix, stdout=out)
    assert "Revoked" in out.getvalue()
    response = client_with(plain).post(CLAIM)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    event = AuditEvent.objects.get(action="token.revoked")
    assert event.data["prefix"] == token.prefix and event.actor_label == "revoke_token"
    call_command("revoke_token", str(token.pk), stdout=out)  # by id; already revoked
    assert AuditEvent.objects.filter(action="token.revoked").count() == 1
    with pytest.raises(CommandError):
        call_command("revoke_token", "nosuchprefix", stdout=out)


def test_a_password_change_revokes_the_persons_tokens(people):
    _, plain = token_for(people.reviewer)
    _, other_plain = token_for(people.outsider)
    user_password_recorded(user=people.reviewer, actor=Actor.system("test"), usable=True)
    assert client_with(plain).post(CLAIM).status_code == 401
    assert client_with(other_plain).post(CLAIM).status_code != 401
    event = AuditEvent.objects.get(action="token.revoked")
    assert event.data["reason"] == "password changed" and event.data["user"] == "rita"


def test_a_role_change_revokes_the_persons_tokens(people):
    _, plain = token_for(people.reviewer)
    user_update(user_id=people.reviewer.pk, values={"role": "senior"}, actor=Actor.system("test"))
    assert client_with(plain).post(CLAIM).status_code == 401


def test_create_user_on_an_existing_person_revokes_their_tokens(people):
    _, plain = token_for(people.reviewer)
    user_create(
        username="rita",
        role="reviewer",
        password="another long passphrase 42",
        queues=[],
        actor=Actor.system("test"),
    )
    assert client_with(plain).post(CLAIM).status_code == 401


def test_an_unrelated_change_keeps_the_tokens(people):
    _, plain = token_for(people.reviewer)
    user_update(
        user_id=people.reviewer.pk, values={"email": "rita@example.com"}, actor=Actor.system("t")
    )
    assert client_with(plain).post(CLAIM).status_code == 204
