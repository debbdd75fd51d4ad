"""Two reviewers, one item: only one of them gets it. When a lease is lost, the page says so
plainly instead of pretending the decision went through."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from reviewqueue.models import Decision, Recommendation
from reviewqueue.services.leases import leases_return_expired
from tests.browser.helpers import ingest, login
from tests.factories import UserFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REVIEW = "/queues/refunds/review/"
LEASE_LEFT_SECONDS = 5


def test_two_reviewers_one_item_and_a_lost_lease(
    page: Page, browser: Browser, live_server, world, people, shot
):
    carol_user = UserFactory(username="carol")  # a second reviewer, to race the shared one
    member(carol_user, world.queue)
    rec = ingest(world)
    login(page, live_server.url, people.reviewer.username)
    other_context = browser.new_context()
    carol = other_context.new_page()
    try:
        login(carol, live_server.url, carol_user.username)
        page.goto(live_server.url + REVIEW)
        expect(page.locator("#item")).to_contain_text("1 waiting in this queue")
        page.get_by_role("button", name="Claim the next item").click()
        # The click only sends the claim: Carol looks once Rita's page shows she holds it.
        expect(page.locator("#item")).to_contain_text("ticket-0:refund")
        carol.goto(live_server.url + REVIEW)
        expect(carol.locator("#item")).to_contain_text("Nothing waiting in this queue")
        rec.refresh_from_db()
        assert rec.claimed_by == people.reviewer

        # Rita's lease runs out while she looks away, the lease sweep returns the item, and
        # Carol checks again and takes it.
        Recommendation.objects.filter(pk=rec.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert leases_return_expired(queue=world.queue) == 1
        carol.get_by_role("link", name="Check again").click()
        expect(carol.locator("#item")).to_contain_text("1 waiting in this queue")
        carol.get_by_role("button", name="Claim the next item").click()
        expect(carol.locator("#item")).to_contain_text("ticket-0:refund")

        page.get_by_role("button", name="Approve", exact=True).click()
        lost = page.locator("#item [role=alert]")
        expect(lost).to_contain_text("This item is no longer yours")
        expect(lost).to_contain_text("Another reviewer holds this item now.")
        expect(page.get_by_role("button", name="Claim the next item")).to_be_visible()
        shot("lost-lease")
        assert not Decision.objects.exists()

        carol.get_by_role("button", name="Approve", exact=True).click()
        expect(carol.locator("#item")).to_contain_text("Approved ticket-0:refund.")
        assert Decision.objects.get(recommendation=rec).reviewer == carol_user

        # Rita's "claim the next item" finds nothing: it was decided by Carol.
        page.get_by_role("button", name="Claim the next item").click()
        expect(page.locator("#item")).to_contain_text("Nothing waiting in this queue")
    finally:
        other_context.close()


def test_the_lease_countdown_says_plainly_when_it_ran_out(page: Page, live_server, world, people):
    rec = ingest(world)
    login(page, live_server.url, people.reviewer.username)
    page.goto(live_server.url + REVIEW)
    page.get_by_role("button", name="Claim the next item").click()
    expect(page.locator("#item")).to_contain_text("ticket-0:refund")
    # Shorten the lease to a few seconds and reload: the same item comes back, nearly expired.
    # (The reload must beat the lease: on a loaded machine it can take a second or two.)
    Recommendation.objects.filter(pk=rec.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=LEASE_LEFT_SECONDS)
    )
    page.reload()
    expect(page.locator("#item")).to_contain_text("ticket-0:refund")
    expired = page.get_by_text("Your lease expired — this item may go to someone else.")
    expect(expired).to_be_visible(timeout=(LEASE_LEFT_SECONDS + 30) * 1000)
    expect(page.locator("[data-lease-clock]")).to_have_text("0:00")
