"""An admin opens a queue's page, reads its readiness, advances it with a reason, and sees
the move in the stage history; the next recommendation is routed by the new stage."""

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import AuditEvent, Queue, StageChange
from tests.browser.helpers import ingest, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_advances_a_queue_from_its_page(page: Page, live_server, world, people, shot):
    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow")
    login(page, live_server.url, people.admin.username)
    page.get_by_role("link", name="Refunds", exact=True).click()
    expect(page.get_by_role("heading", name="Readiness for approval")).to_be_visible()
    expect(page.locator("[data-gate='shadow_agreement']")).to_contain_text("no data yet")
    expect(page.locator("#history")).to_contain_text("No stage changes yet.")

    page.get_by_label("Move to stage").select_option("approval")
    page.get_by_role("button", name="Change stage").click()
    expect(page.locator(".error-summary")).to_contain_text("say why you advance anyway")

    page.get_by_label("Why").fill("Agreement checked by hand on the pilot.")
    page.get_by_role("button", name="Change stage").click()
    expect(page.get_by_role("status")).to_contain_text("moved from shadow to approval")
    expect(page.locator("[data-stage]")).to_have_text("approval")
    row = page.locator("[data-stage-change='advance']")
    expect(row).to_contain_text("shadow → approval")
    expect(row).to_contain_text(people.admin.username)
    expect(row).to_contain_text("Agreement checked by hand on the pilot.")
    shot("admin-advance")

    change = StageChange.objects.get()
    assert change.evidence["gates"][0]["key"] == "shadow_agreement"
    assert AuditEvent.objects.filter(action="queue.stage_changed").count() == 1
    assert ingest(world, 1).route == "review"
