"""Bulk from the items list in Chromium: select two rows (one by click, one by `x`), Approve
selected, the confirmation names the one left out, confirm."""

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import Decision
from tests.browser.helpers import ingest, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bulk_approve_with_a_refusal(page: Page, live_server, world, people, shot):
    low = ingest(world, 1, risk_score=0.1)
    risky = ingest(world, 2, risk_score=0.9)
    login(page, live_server.url, people.reviewer.username)
    page.goto(f"{live_server.url}/queues/refunds/items/")
    page.keyboard.press("j")  # rows are sorted by priority then age: the second is risky
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.get_by_label(f"Select {risky.external_id}")).to_be_checked()
    page.get_by_label(f"Select {low.external_id}").check()
    page.locator("[data-bulk-approve]").click()
    expect(page.get_by_role("heading", name="Approve 1 item?")).to_be_visible()
    expect(page.locator("[data-bulk-refused]")).to_contain_text(risky.external_id)
    shot("items-bulk-confirm")
    page.locator("[data-bulk-confirm]").click()
    expect(page.get_by_text("Approved 1 of 2 selected items.")).to_be_visible()
    assert list(Decision.objects.values_list("recommendation_id", "bulk")) == [(low.pk, True)]
