"""An admin edits a queue in the Django admin: a value apply_config refuses is refused on its
field, nothing saved; a good edit is saved, and the audit event's page shows every changed
field with its value before and after (issue 14, findings 1 and 2)."""

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import AuditEvent, Queue
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_edit_of_a_queue_is_on_the_record_with_before_and_after(
    page: Page, live_server, world, people, shot
):
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(people.admin.username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    page.goto(f"{live_server.url}/admin/reviewqueue/queue/{world.queue.pk}/change/")
    page.get_by_label("Breaker window").fill("0")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".field-breaker_window .errorlist")).to_contain_text(
        "must be a positive integer, got 0"
    )
    assert Queue.objects.get(pk=world.queue.pk).breaker_window == 50
    assert not AuditEvent.objects.filter(action="queue.changed").exists()
    shot("admin-audit-refused")

    page.get_by_label("Breaker window").fill("20")
    page.get_by_label("Auto max risk").fill("0.5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.goto(f"{live_server.url}/admin/reviewqueue/auditevent/?action__exact=queue.changed")
    page.locator("#result_list tbody tr th a").first.click()
    expect(page.locator(".field-action")).to_contain_text("queue.changed")
    expect(page.locator(".field-actor_label")).to_contain_text(people.admin.username)
    risk = page.locator("[data-change='auto_max_risk']")
    expect(risk).to_contain_text("0.3")
    expect(risk).to_contain_text("0.5")
    window = page.locator("[data-change='breaker_window']")
    expect(window).to_contain_text("50")
    expect(window).to_contain_text("20")
    shot("admin-audit-event")

    event = AuditEvent.objects.get(action="queue.changed")
    assert event.data["changes"] == {
        "auto_max_risk": {"before": 0.3, "after": 0.5},
        "breaker_window": {"before": 50, "after": 20},
    }
