"""Shared steps of the reviewer journeys."""

from playwright.sync_api import Page, expect

from reviewqueue.models import Recommendation
from reviewqueue.services.ingest import recommendation_ingest
from tests.conftest import TEST_PASSWORD, item


def ingest(world, n: int = 0, **overrides) -> Recommendation:
    rec, _ = recommendation_ingest(
        source=world.source, data=item(external_id=f"ticket-{n}:refund", **overrides)
    )
    return rec


def login(page: Page, base_url: str, username: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/queues/")


def settled(page: Page) -> None:
    """Wait until the review page's item has settled: htmx wired its forms and review.js
    (settleItem) focused its title. Keys pressed before that could race the swap."""
    expect(page.locator("#item #rec-title")).to_be_focused()
