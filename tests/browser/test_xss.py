"""AI-written text is untrusted. An XSS corpus in every field the AI controls is shown
literally on the review page and the item's page, never run; a javascript: evidence URL
never becomes a link."""

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from reviewqueue.models import Decision, Recommendation
from tests.browser.helpers import ingest, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload=window.__xss=1>'
JS_URL = "javascript:window.__xss=1"
TEMPLATE = "{{7*7}}"
HTMX = '<div hx-post="/logout/" hx-trigger="load">htmx</div>'
CORPUS = [SCRIPT, IMG, SVG, JS_URL, TEMPLATE, HTMX]


def poisoned_item(world) -> Recommendation:
    rec = ingest(
        world,
        rationale="\n".join(CORPUS),
        action={
            "type": "refund.issue",
            "payload": {"order_id": SVG, "amount": 1, "note": SCRIPT, IMG: TEMPLATE},
        },
        metadata={SCRIPT: IMG, "nested": {SVG: [HTMX]}},
        model={"name": IMG, "version": SVG},
        prompt_version=TEMPLATE,
        evidence=[
            {"title": SCRIPT, "url": "https://crm.example/a", "snippet": IMG},
            {"title": SVG, "url": "https://crm.example/b", "snippet": HTMX},
        ],
    )
    # The API refuses javascript: URLs, so store one directly, as a bug or old row might.
    evidence = [*rec.evidence, {"title": "Run me", "url": JS_URL, "snippet": TEMPLATE}]
    Recommendation.objects.filter(pk=rec.pk).update(evidence=evidence)
    return rec


def assert_inert(page: Page, dialogs: list[Dialog], *, item_shown: bool = True) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("svg[onload], img[onerror], script:not([src])").count() == 0
    if not item_shown:
        return
    expect(page.get_by_text("Run me", exact=True)).to_be_visible()
    expect(page.get_by_text(JS_URL).first).to_be_visible()


def test_untrusted_text_is_shown_literally_and_never_runs(
    page: Page, browser: Browser, live_server, world, people, shot
):
    rec = poisoned_item(world)
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
    login(page, live_server.url, people.reviewer.username)
    page.goto(f"{live_server.url}/queues/refunds/review/")
    page.get_by_role("button", name="Claim the next item").click()
    expect(page.locator("#item")).to_contain_text("ticket-0:refund")

    rationale = page.locator(".prose")
    for text in CORPUS:
        expect(rationale).to_contain_text(text)
    payload = page.locator("#item .kv").first
    for text in (SVG, SCRIPT, IMG, TEMPLATE):
        expect(payload).to_contain_text(text)
    expect(page.get_by_text("49", exact=True)).to_have_count(0)
    assert_inert(page, dialogs)

    # The modify form carries the same text in its inputs: still inert.
    page.keyboard.press("m")
    expect(page.locator("#panel-modify")).to_be_visible()
    expect(page.locator("#panel-modify textarea").first).to_contain_text("<img src=x onerror=")
    assert_inert(page, dialogs)
    shot("xss-review-page")
    page.keyboard.press("Escape")

    # The htmx partial that follows a decision renders the same data.
    page.keyboard.press("a")
    expect(page.locator("#item")).to_contain_text("Nothing waiting in this queue")
    assert Decision.objects.get(recommendation=rec).outcome == "approve"
    assert_inert(page, dialogs, item_shown=False)

    page.goto(f"{live_server.url}/recommendations/{rec.pk}/")
    expect(page.locator(".prose").first).to_contain_text(SCRIPT)
    expect(page.locator("#timeline")).to_contain_text("recommendation.decided")
    assert_inert(page, dialogs)
    expect(page.get_by_text(f"{IMG}", exact=True).first).to_be_visible()
    # Still signed in: the hx-get in the text was never processed.
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
