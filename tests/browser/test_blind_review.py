"""A reviewer blind-reviews shadow items: the page shows the inputs and evidence but never
the AI's proposal; they enter the action they would take, and the app records whether it
agreed with the hidden proposal. Nothing executes."""

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import AuditEvent, Decision, Execution, Queue
from tests.api.test_blind_review import SECRETS, add
from tests.browser.helpers import login, settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_blind_review_never_shows_the_proposal(page: Page, live_server, world, people, shot):
    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=True)
    agree, disagree = add(world, external_id="blind-1"), add(world, external_id="blind-2")
    login(page, live_server.url, people.reviewer.username)
    page.get_by_role("link", name="Review Refunds").click()
    page.get_by_role("button", name="Claim the next item").click()
    item = page.locator("#item")
    expect(item).to_contain_text("blind-1")
    settled(page)
    expect(item).to_contain_text("Blind review")
    expect(item).to_contain_text("Order A-1")  # the evidence, an input
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    for secret in SECRETS:
        assert secret not in page.content()
    shot("blind-review")

    # m opens the form, which starts empty.
    page.keyboard.press("m")
    form = page.locator("#panel-modify")
    expect(form).to_be_visible()
    order = form.get_by_role("textbox", name="order_id", exact=True)
    expect(order).to_have_value("")
    for secret in SECRETS:
        assert secret not in page.content()
    order.fill("SECRET-ORDER-77")
    form.get_by_role("spinbutton", name="amount", exact=True).fill("1234.5")
    form.get_by_role("button", name="Submit my action").click()
    expect(item.get_by_role("status")).to_have_text("Recorded your blind review of blind-1.")
    expect(item).to_contain_text("blind-2")
    for secret in SECRETS:
        assert secret not in page.content()

    # r: no action should happen.
    page.keyboard.press("r")
    reject = page.locator("#panel-reject")
    reject.locator("#reject-reason").select_option("policy_violation")
    reject.get_by_role("button", name="Confirm rejection").click()
    expect(item).to_contain_text("Nothing waiting")
    shot("blind-review-done")

    # Only the cosmetic note differs from the hidden proposal: that still agrees.
    first = Decision.objects.get(recommendation=agree)
    assert (first.outcome, first.is_cosmetic) == ("modify", True)
    assert Decision.objects.get(recommendation=disagree).outcome == "reject"
    agreed = {
        e.recommendation_id: e.data["agreed"]
        for e in AuditEvent.objects.filter(action="recommendation.blind_reviewed")
    }
    assert agreed == {agree.pk: True, disagree.pk: False}
    assert not Execution.objects.exists()
