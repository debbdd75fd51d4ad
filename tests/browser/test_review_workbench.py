"""A reviewer's workbench on the review page (issue 17 #4, #7, #8): the queue's guidelines in a
panel that stays collapsed, reasons shown by label and picked by number, `?`, `s` and `o`, a
refused Modify whose errors are in view, a first notice that moves nothing, and a 390 px
wide phone."""

import re

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import ActionType, Decision, Queue, Recommendation
from reviewqueue.services.review import recommendation_claim, recommendation_escalate
from tests.browser.helpers import ingest, login, settled
from tests.factories import REFUND_SCHEMA

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASONS = [
    {"code": "wrong_amount", "label": "Wrong amount", "description": "Not what was paid."},
    {"code": "policy_violation", "label": "Against refund policy", "description": "Too late."},
    "other",
]
GUIDELINES = """## Refund rules

Refunds above **500** need a senior. <script>window.__pwned = 1</script>

See the [refund policy](https://example.com/policy) and [this](javascript:alert(1)).
"""


@pytest.fixture
def workbench(world):
    """Refunds with labelled reasons and guidelines; amounts must be above 0 (a rule the
    browser cannot check, so the server refuses 0)."""
    Queue.objects.filter(pk=world.queue.pk).update(reason_codes=REASONS, guidelines=GUIDELINES)
    schema = {**REFUND_SCHEMA, "properties": {**REFUND_SCHEMA["properties"]}}
    schema["properties"]["amount"] = {"type": "number", "exclusiveMinimum": 0}
    ActionType.objects.filter(pk=world.action_type.pk).update(payload_schema=schema)
    return world


def start(page: Page, url: str, username: str) -> None:
    login(page, url, username)
    page.goto(f"{url}/queues/refunds/review/")
    page.keyboard.press("n")
    expect(page.locator("#item [data-rec]")).to_be_visible()
    settled(page)


def test_guidelines_show_sanitised_and_stay_collapsed_across_a_reload(
    page: Page, live_server, workbench, people, shot
):
    ingest(workbench, 0)
    start(page, live_server.url, people.reviewer.username)
    panel = page.locator("#guidelines")
    body = panel.locator(".guidelines-body")
    expect(body).to_be_visible()
    expect(body.get_by_role("heading", name="Refund rules")).to_be_visible()
    expect(body).to_contain_text("<script>window.__pwned = 1</script>")  # shown as text
    assert page.evaluate("window.__pwned") is None
    policy = body.get_by_role("link", name="refund policy")
    expect(policy).to_have_attribute("href", "https://example.com/policy")
    expect(policy).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(body.get_by_role("link", name="this")).to_have_count(0)  # javascript: is no link
    shot("review-guidelines-open")

    panel.locator("summary").click()
    expect(body).to_be_hidden()
    page.reload()
    expect(page.locator("#item [data-rec]")).to_be_visible()
    expect(page.locator("#guidelines .guidelines-body")).to_be_hidden()
    page.locator("#guidelines summary").click()
    page.reload()
    expect(page.locator("#guidelines .guidelines-body")).to_be_visible()

    # Changed guidelines open again for everyone who had collapsed the old ones.
    page.locator("#guidelines summary").click()
    Queue.objects.filter(pk=workbench.queue.pk).update(guidelines=GUIDELINES + "\nNew rule.")
    page.reload()
    expect(page.locator("#guidelines .guidelines-body")).to_contain_text("New rule.")


def test_number_keys_pick_reasons_by_label_and_the_code_is_stored(
    page: Page, live_server, workbench, people, shot
):
    rec = ingest(workbench, 0)
    start(page, live_server.url, people.reviewer.username)
    reason = page.locator("#reject-reason")

    # `2` with no form open: Reject opens with the second reason chosen.
    page.keyboard.press("2")
    expect(page.locator("#panel-reject")).to_be_visible()
    expect(reason).to_have_value("policy_violation")
    expect(reason.locator("option:checked")).to_have_text("2. Against refund policy")
    expect(page.locator("#reject-reason-hint")).to_have_text("Too late.")
    shot("review-reason-keys")

    # In the reason list a digit picks too; in the comment it is only a character.
    expect(reason).to_be_focused()
    page.keyboard.press("1")
    expect(reason).to_have_value("wrong_amount")
    expect(page.locator("#reject-reason-hint")).to_have_text("Not what was paid.")
    comment = page.locator("#reject-comment")
    comment.click()
    page.keyboard.type("3 s o ?")
    expect(comment).to_have_value("3 s o ?")
    expect(reason).to_have_value("wrong_amount")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    # A digit with Ctrl (a browser tab switch) is not ours.
    page.locator("#rec-title").focus()
    page.keyboard.press("Control+3")
    expect(reason).to_have_value("wrong_amount")
    page.keyboard.press("3")
    expect(reason).to_have_value("other")
    page.keyboard.press("9")  # no ninth reason: nothing changes
    expect(reason).to_have_value("other")

    page.keyboard.press("2")
    page.get_by_role("button", name="Confirm rejection").click()
    expect(page.locator("#item").get_by_role("status")).to_have_text("Rejected ticket-0:refund.")
    decision = Decision.objects.get(recommendation=rec)
    assert (decision.outcome, decision.reason_code) == ("reject", "policy_violation")


def test_question_mark_lists_every_key_and_s_releases_and_o_opens_evidence(
    page: Page, live_server, workbench, people, shot
):
    rec = ingest(workbench, 0)
    page.context.route(
        "https://crm.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>Order</p>"),
    )
    start(page, live_server.url, people.reviewer.username)

    page.keyboard.press("?")
    keys = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(keys).to_be_visible()
    for words in [
        "Approve",
        "Modify",
        "Reject",
        "Escalate",
        "Pick the reason",
        "Release",
        "evidence",
    ]:
        expect(keys).to_contain_text(words)
    shot("review-keys-dialog")
    page.keyboard.press("s")  # keys other than ? and Esc do nothing under the dialog
    expect(page.locator("#item [data-rec]")).to_be_visible()
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()

    with page.context.expect_page() as opened:
        page.keyboard.press("o")
    expect(opened.value).to_have_url("https://crm.example/orders/A-1")
    opened.value.close()
    assert page.url.endswith("/queues/refunds/review/")

    # `s` does nothing while a form is open, then releases.
    page.keyboard.press("m")
    page.locator("#rec-title").focus()
    page.keyboard.press("s")
    expect(page.locator("#item [data-rec]")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#item").get_by_role("status")).to_have_text(
        "Released ticket-0:refund; it is back in the queue for anyone to take."
    )
    rec.refresh_from_db()
    assert rec.status == "pending" and rec.claimed_by is None


def _below_bar_and_inside(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    bar = page.locator("#item .actions").bounding_box()
    viewport = page.viewport_size
    assert box and bar and viewport
    assert box["y"] >= bar["y"] + bar["height"] - 1, (box, bar)
    assert box["y"] + min(box["height"], 80) <= viewport["height"], (box, viewport)


@pytest.mark.parametrize("size", [(1280, 640), (390, 700)], ids=["desktop", "phone"])
def test_a_refused_modify_shows_its_error_summary_below_the_sticky_bar(
    page: Page, live_server, workbench, people, shot, size
):
    ingest(workbench, 0)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    start(page, live_server.url, people.reviewer.username)
    page.keyboard.press("m")
    form = page.locator("#panel-modify")
    form.get_by_role("spinbutton", name="amount", exact=True).fill("0")
    form.locator("#modify-reason").select_option("wrong_amount")
    form.get_by_role("button", name="Save changes and approve").click()
    summary = form.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Must be greater than 0.")
    expect(summary).to_be_in_viewport()
    _below_bar_and_inside(page, "#panel-modify [data-error-summary]")
    shot(f"modify-error-in-view-{size[0]}")
    # Its link brings the field into view below the bar too.
    summary.get_by_role("link", name="amount").click()
    expect(form.get_by_role("spinbutton", name="amount", exact=True)).to_be_focused()
    _below_bar_and_inside(page, "#panel-modify input[name='payload.amount']")


def test_the_first_notice_does_not_move_the_approve_button(
    page: Page, live_server, workbench, people
):
    for n in range(2):
        ingest(workbench, n)
    start(page, live_server.url, people.reviewer.username)
    approve = page.get_by_role("button", name="Approve", exact=True)
    before = approve.bounding_box()
    approve.click()
    expect(page.locator("#item").get_by_role("status")).to_have_text("Approved ticket-0:refund.")
    expect(page.locator("#item")).to_contain_text("ticket-1:refund")
    after = page.get_by_role("button", name="Approve", exact=True).bounding_box()
    assert before and after and abs(before["y"] - after["y"]) < 1, (before, after)


def test_at_390_px_nothing_is_clipped_and_escalated_is_said_once(
    page: Page, live_server, workbench, people, shot
):
    rec = ingest(workbench, 0)
    recommendation_claim(user=people.reviewer, queue=workbench.queue)
    recommendation_escalate(user=people.reviewer, recommendation_id=rec.pk, comment="big one")
    assert Recommendation.objects.get().status == "escalated"
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, people.senior.username)
    page_width = "document.documentElement.scrollWidth"
    assert page.evaluate(page_width) <= 390
    wrap = page.locator("#queues .table-wrap")
    overflow = wrap.evaluate("w => [w.scrollWidth, w.clientWidth, getComputedStyle(w).overflowX]")
    assert overflow[2] == "auto" and overflow[1] <= 390
    # Every column of the table can be scrolled to, and no heading wraps.
    last = page.locator("#queues thead th").last
    last.scroll_into_view_if_needed()
    expect(last).to_be_in_viewport()
    heights = page.locator("#queues thead th").evaluate_all(
        "ths => ths.map(th => th.getBoundingClientRect().height)"
    )
    assert max(heights) - min(heights) < 2, heights
    shot("queues-390")

    page.goto(f"{live_server.url}/queues/refunds/review/")
    page.keyboard.press("n")
    expect(page.locator("#item [data-rec]")).to_be_visible()
    assert page.evaluate(page_width) <= 390
    tags = page.locator("#item .tag").all_inner_texts()
    assert [t for t in tags if re.search("escalated", t, re.I)] == ["Escalated"], tags
    shot("review-390")
