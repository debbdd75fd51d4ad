"""/settings/: each person chooses which notifications they get by email (issue 18 #4)."""

import re

from django.test import Client

from reviewqueue.models import NotificationPreference


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def checked(page: str) -> list[str]:
    return re.findall(r'name="email_events" value="(\w+)" checked', page)


def test_the_defaults_are_assigned_escalated_and_digest(people):
    page = signed_in(people.reviewer).get("/settings/").content.decode()
    assert sorted(checked(page)) == ["assigned", "digest", "escalated"]
    assert 'action="/settings/notifications"' in page
    assert "Personal API tokens" in page  # tokens stay on the same page


def test_saving_keeps_what_was_chosen_for_this_person_only(people):
    client = signed_in(people.reviewer)
    response = client.post(
        "/settings/notifications", {"email_events": ["sla_warning", "breaker", "bogus"]}
    )
    assert response.status_code == 302 and response["Location"] == "/settings/"
    page = client.get("/settings/").content.decode()
    assert sorted(checked(page)) == ["breaker", "sla_warning"]
    assert "notification choices are saved" in page
    assert NotificationPreference.objects.get().user == people.reviewer
    other = signed_in(people.senior).get("/settings/").content.decode()
    assert sorted(checked(other)) == ["assigned", "digest", "escalated"]


def test_unticking_everything_means_no_email(people):
    client = signed_in(people.reviewer)
    client.post("/settings/notifications", {})
    assert checked(client.get("/settings/").content.decode()) == []
