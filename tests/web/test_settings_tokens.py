"""/settings/: a person lists their own tokens and revokes them; the admin revokes anyone's.
Both audited (issue 14 #4)."""

import re

from django.test import Client
from rest_framework.test import APIClient

from reviewqueue.models import AuditEvent, PersonalToken
from reviewqueue.services.audit import Actor
from reviewqueue.services.tokens import personal_token_create

CLAIM = "/api/v1/queues/refunds/claim"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def works(plain: str) -> bool:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return api.post(CLAIM).status_code != 401


def test_settings_lists_only_my_tokens_never_their_secret(people):
    mine, plain = personal_token_create(
        user=people.reviewer, name="laptop", actor=Actor.system("t")
    )
    theirs, _ = personal_token_create(user=people.outsider, name="ottos", actor=Actor.system("t"))
    page = signed_in(people.reviewer).get("/settings/")
    text = page.content.decode()
    assert page.status_code == 200 and mine.prefix in text and "laptop" in text
    assert theirs.prefix not in text and plain not in text and mine.key_hash not in text


def test_i_revoke_my_token_from_settings_and_it_stops_working(people):
    token, plain = personal_token_create(user=people.reviewer, actor=Actor.system("t"))
    assert works(plain)
    response = signed_in(people.reviewer).post(f"/settings/tokens/{token.pk}/revoke")
    assert response.status_code == 302 and response["Location"] == "/settings/"
    assert not works(plain)
    event = AuditEvent.objects.get(action="token.revoked")
    assert event.actor_label == "rita" and event.data["reason"] == "revoked by its owner"


def test_i_cannot_revoke_someone_elses_token(people):
    token, _ = personal_token_create(user=people.outsider, actor=Actor.system("t"))
    response = signed_in(people.reviewer).post(f"/settings/tokens/{token.pk}/revoke")
    assert response.status_code == 404
    assert PersonalToken.objects.get(pk=token.pk).revoked_at is None
    assert not AuditEvent.objects.filter(action="token.revoked").exists()


def test_a_token_created_on_settings_is_shown_once(people):
    client = signed_in(people.reviewer)
    response = client.post("/settings/tokens/", {"name": "ci", "days": "30"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    token = PersonalToken.objects.get(user=people.reviewer)
    plain = re.search(r"rqp_[0-9a-f]{12}_[\w-]+", response.content.decode()).group(0)
    assert works(plain)
    assert plain not in client.get("/settings/").content.decode()
    assert token.name == "ci"
    assert client.post("/settings/tokens/", {"days": "9999"}).status_code == 400


def test_an_admin_revokes_a_token_in_the_admin(people):
    token, plain = personal_token_create(user=people.reviewer, actor=Actor.system("t"))
    response = signed_in(people.admin).post(
        "/admin/reviewqueue/personaltoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert not works(plain)
    event = AuditEvent.objects.get(action="token.revoked")
    assert event.actor_label == "ada" and event.data["reason"] == "revoked by an admin"
