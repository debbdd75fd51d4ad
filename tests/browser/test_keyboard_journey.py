"""A reviewer works through a queue with the keyboard: approve, modify (with a refused first
try), reject, escalate; a senior then picks up the escalated item. No full page reload
happens on the way: a marker set on `window` at the start survives every decision."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from reviewqueue.models import ActionType, AuditEvent, Decision, Recommendation
from tests.browser.helpers import ingest, login, settled
from tests.factories import REFUND_SCHEMA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def decision(rec: Recommendation) -> Decision:
    return Decision.objects.get(recommendation=rec)


def test_reviewer_decides_four_items_with_the_keyboard(
    page: Page, browser: Browser, live_server, world, people, shot
):
    # exclusiveMinimum has no HTML attribute: the browser lets 0 through, the service refuses.
    schema = {**REFUND_SCHEMA, "properties": {**REFUND_SCHEMA["properties"]}}
    schema["properties"]["amount"] = {"type": "number", "exclusiveMinimum": 0}
    ActionType.objects.filter(pk=world.action_type.pk).update(payload_schema=schema)
    recs = [ingest(world, n) for n in range(4)]
    login(page, live_server.url, people.reviewer.username)
    expect(page.get_by_role("row", name=re.compile("Refunds"))).to_contain_text("4")
    shot("queues-page")

    # The link only shows the queue (a GET takes nothing); n claims the next item.
    page.get_by_role("link", name="Review Refunds").click()
    item = page.locator("#item")
    expect(item).to_contain_text("You are not holding an item")
    expect(item).to_contain_text("4 waiting in this queue")
    assert not Recommendation.objects.filter(claimed_by=people.reviewer).exists()
    shot("review-page-claim")
    page.keyboard.press("n")
    expect(item).to_contain_text("ticket-0:refund")
    settled(page)
    expect(page.locator("[data-lease-clock]")).to_have_text(re.compile(r"^(9|10):\d\d$"))
    for name in ["Approve", "Modify", "Reject", "Escalate", "Release"]:
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    shot("review-page")
    page.set_viewport_size({"width": 420, "height": 900})
    shot("review-page-narrow")
    page.set_viewport_size({"width": 1280, "height": 720})
    page.evaluate("window.__noReload = 'still here'")

    # a: approve as proposed; the next item swaps in.
    page.keyboard.press("a")
    expect(item.get_by_role("status")).to_have_text("Approved ticket-0:refund.")
    expect(item).to_contain_text("ticket-1:refund")
    assert decision(recs[0]).outcome == "approve"
    settled(page)

    # m: the generated form. An amount of 0 is refused inline (400), then fixed.
    page.keyboard.press("m")
    form = page.locator("#panel-modify")
    expect(form).to_be_visible()
    expect(form.get_by_role("textbox", name="order_id", exact=True)).to_be_focused()
    amount = form.get_by_role("spinbutton", name="amount", exact=True)
    expect(amount).to_have_value("40.0")
    amount.fill("0")
    form.locator("#modify-reason").select_option("wrong_amount")
    form.get_by_label("Comment").fill("refund the part actually charged twice")
    form.get_by_role("button", name="Save changes and approve").click()
    expect(form.locator(".field.has-error")).to_contain_text("Must be greater than 0.")
    # The error summary takes focus (issue 17 #8a); its link leads to the field.
    summary = form.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="amount").click()
    expect(form.get_by_role("spinbutton", name="amount", exact=True)).to_be_focused()
    expect(form.get_by_role("spinbutton", name="amount", exact=True)).to_have_value("0")
    expect(form.locator("#modify-reason")).to_have_value("wrong_amount")
    shot("modify-inline-error")
    assert not Decision.objects.filter(recommendation=recs[1]).exists()
    form.get_by_role("spinbutton", name="amount", exact=True).fill("25.5")
    form.get_by_role("button", name="Save changes and approve").click()
    expect(item.get_by_role("status")).to_have_text("Modified and approved ticket-1:refund.")
    modified = decision(recs[1])
    assert modified.outcome == "modify" and modified.reason_code == "wrong_amount"
    assert modified.payload == {"order_id": "A-1", "amount": 25.5}
    assert modified.diff == [{"path": "amount", "op": "replace", "old": 40.0, "new": 25.5}]
    assert modified.is_cosmetic is False
    settled(page)

    # r: reject; focus goes straight to the reason.
    page.keyboard.press("r")
    reason = page.locator("#reject-reason")
    expect(reason).to_be_focused()
    reason.select_option("policy_violation")
    page.get_by_role("button", name="Confirm rejection").click()
    expect(item.get_by_role("status")).to_have_text("Rejected ticket-2:refund.")
    rejected = decision(recs[2])
    assert (rejected.outcome, rejected.reason_code) == ("reject", "policy_violation")
    settled(page)

    # e: escalate with a comment. Typing "a" and "e" in the comment decides nothing.
    page.keyboard.press("e")
    comment = page.locator("#escalate-comment")
    expect(comment).to_be_focused()
    page.keyboard.type("needs a senior eye")
    expect(comment).to_have_value("needs a senior eye")
    assert Decision.objects.count() == 3
    page.get_by_role("button", name="Send to senior reviewers").click()
    expect(item.get_by_role("status")).to_have_text(
        "Escalated ticket-3:refund to the senior reviewers."
    )
    expect(item).to_contain_text("Nothing waiting in this queue")
    recs[3].refresh_from_db()
    assert recs[3].status == "escalated" and Decision.objects.count() == 3
    assert (
        AuditEvent.objects.get(recommendation=recs[3], action="recommendation.escalated").data[
            "comment"
        ]
        == "needs a senior eye"
    )

    # ?: the keys, in a dialog.
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Reject (pick a reason)")
    shot("help-dialog")
    page.keyboard.press("?")
    expect(help_dialog).to_be_hidden()

    assert page.evaluate("window.__noReload") == "still here"

    # The item's page shows the modification's diff.
    page.goto(f"{live_server.url}/recommendations/{recs[1].pk}/")
    expect(page.locator("#decision")).to_contain_text("substantive")
    expect(page.locator("#timeline")).to_contain_text("recommendation.decided")
    shot("recommendation-page")

    # A senior, in their own browser context, gets the escalated item with its badge.
    senior_context = browser.new_context()
    senior_page = senior_context.new_page()
    try:
        login(senior_page, live_server.url, people.senior.username)
        senior_page.goto(f"{live_server.url}/queues/refunds/review/")
        claim = senior_page.get_by_role("button", name="Claim the next item")
        expect(claim).to_be_focused()
        senior_page.keyboard.press("Enter")  # the claim button has focus: Enter claims
        expect(senior_page.locator("#item")).to_contain_text("ticket-3:refund")
        expect(senior_page.locator("#item .tag-escalated")).to_have_text("Escalated")
        expect(senior_page.locator(".escalation-note")).to_contain_text("needs a senior eye")
        expect(senior_page.get_by_role("button", name="Escalate", exact=True)).to_be_disabled()
        shot("senior-escalated", target=senior_page)
    finally:
        senior_context.close()


def test_buttons_and_forms_work_without_javascript(
    browser: Browser, page: Page, live_server, world, people, shot
):
    """Every control is a plain form: with JavaScript off, Reject opens its form by a GET
    and the decision posts and redirects back (PRG)."""
    recs = [ingest(world, n) for n in range(2)]
    context = browser.new_context(java_script_enabled=False)
    nojs = context.new_page()
    try:
        login(nojs, live_server.url, people.reviewer.username)
        nojs.goto(f"{live_server.url}/queues/refunds/review/")
        # A POST form: 303 back to the page, which shows the item claimed.
        nojs.get_by_role("button", name="Claim the next item").click()
        expect(nojs).to_have_url(f"{live_server.url}/queues/refunds/review/")
        expect(nojs.locator("#item")).to_contain_text("ticket-0:refund")
        nojs.get_by_role("button", name="Reject", exact=True).click()
        expect(nojs).to_have_url(re.compile(r"panel=reject"))
        shot("no-javascript-reject-form", target=nojs)
        nojs.locator("#reject-reason").select_option("other")
        nojs.get_by_role("button", name="Confirm rejection").click()
        expect(nojs).to_have_url(f"{live_server.url}/queues/refunds/review/")
        expect(nojs.locator(".messages")).to_contain_text("Rejected ticket-0:refund.")
        expect(nojs.locator("#item")).to_contain_text("ticket-1:refund")
        assert decision(recs[0]).outcome == "reject"
        nojs.get_by_role("button", name="Approve", exact=True).click()
        expect(nojs.locator("#item")).to_contain_text("Nothing waiting in this queue")
        assert decision(recs[1]).outcome == "approve"
    finally:
        context.close()
