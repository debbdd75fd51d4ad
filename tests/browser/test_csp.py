"""Under the enforced Content Security Policy, Chromium reports no violation on any page a
person uses (htmx, our script, the admin, the API docs) and the htmx swap still works."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import ingest, login, settled
from tests.factories import member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_violations(page: Page) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return seen


def test_no_page_breaks_the_policy_and_htmx_still_swaps(
    page: Page, live_server, world, people, shot
):
    member(people.admin, world.queue)  # an admin who also reviews
    for n in range(2):
        ingest(world, n)
    violations = watch_violations(page)
    login(page, live_server.url, people.admin.username)

    page.goto(f"{live_server.url}/queues/refunds/review/")
    page.get_by_role("button", name="Claim the next item").click()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    item = page.locator("#item")
    expect(item).to_contain_text("ticket-0:refund")
    settled(page)
    page.keyboard.press("a")  # approve with the key: review.js and htmx both at work
    expect(item.get_by_role("status")).to_have_text("Approved ticket-0:refund.")
    expect(item).to_contain_text("ticket-1:refund")

    for path in ("/reports/", "/queues/", "/admin/", "/admin/reviewqueue/recommendation/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.get_by_text("Review Queue API").first).to_be_visible(timeout=30_000)
    shot("csp-api-docs")
    assert violations == []
