"""A reviewer triages a queue in the items list: filter by status, search, sort by a header,
save a view and load it again, move with j/k and open with Enter; then the same page at
390 px wide, where the table scrolls sideways instead of clipping. Filtering never reloads
the page (htmx swaps the table): a marker set on `window` survives."""

import re

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import Recommendation
from tests.browser.helpers import ingest, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rows(page: Page):
    return page.locator("#items tr[data-row]")


def test_reviewer_filters_searches_sorts_saves_a_view_and_opens_by_keyboard(
    page: Page, live_server, world, people, shot
):
    recs = [
        ingest(world, 1, priority=3, risk_score=0.2, rationale="Charged twice for the kettle"),
        ingest(world, 2, priority=1, risk_score=0.9, rationale="Parcel lost in transit"),
        ingest(world, 3, risk_score=0.5, rationale="Wrong size delivered"),
        ingest(world, 4, risk_score=0.7, rationale="Returned to the warehouse"),
    ]
    Recommendation.objects.filter(pk=recs[3].pk).update(status="escalated", route="escalated")
    Recommendation.objects.filter(pk=recs[2].pk).update(assigned_to=people.reviewer)
    login(page, live_server.url, people.reviewer.username)
    page.goto(f"{live_server.url}/queues/refunds/")
    page.get_by_role("link", name="Items", exact=True).click()
    expect(page).to_have_url(re.compile(r"/queues/refunds/items/"))
    expect(rows(page)).to_have_count(4)
    expect(rows(page).first).to_contain_text("ticket-1:refund")  # priority first
    expect(page.locator("[data-assigned-to-you]")).to_have_count(1)
    page.evaluate("window.__noReload = 'still here'")
    shot("items-list")

    # Status: only the escalated one (a checkbox change swaps the table).
    page.get_by_label("escalated", exact=True).check()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("ticket-4:refund")
    page.get_by_label("escalated", exact=True).uncheck()
    expect(rows(page)).to_have_count(4)

    # Search (typed; the table follows after a short pause).
    page.get_by_label("Search").fill("parcel lost")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("ticket-2:refund")
    page.get_by_label("Search").fill("")
    expect(rows(page)).to_have_count(4)

    # Sort by the Risk header: highest first, then a second click lowest first.
    page.locator("#items thead").get_by_role("link", name="Risk").click()
    expect(rows(page).first).to_contain_text("ticket-2:refund")
    expect(page).to_have_url(re.compile(r"sort=-risk_score"))
    expect(page.locator("#f-sort")).to_have_value("-risk_score")
    page.locator("#items thead").get_by_role("link", name="Risk").click()
    expect(rows(page).first).to_contain_text("ticket-1:refund")
    assert page.evaluate("window.__noReload") == "still here"

    # Save these filters (risk ascending) as a view, go elsewhere, load it back.
    page.get_by_role("textbox", name="Save these filters as").fill("Low risk first")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".messages")).to_contain_text("Saved the view “Low risk first”")
    page.get_by_role("link", name="Clear filters").click()
    expect(rows(page).first).to_contain_text("ticket-1:refund")  # priority again
    expect(page.locator("#f-sort")).to_have_value("priority")
    page.locator("#views").get_by_role("link", name="Low risk first").click()
    expect(page.locator("#f-sort")).to_have_value("risk_score")
    expect(rows(page).nth(1)).to_contain_text("ticket-3:refund")
    shot("items-list-saved-view")

    # j, j, k: the second row is selected; Enter opens it.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows(page).nth(1)).to_have_class(re.compile("is-selected"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/recommendations/{recs[2].pk}/"))


def test_items_list_at_390_px_scrolls_the_table_and_clips_nothing(
    page: Page, live_server, world, people, shot
):
    for n in range(3):
        ingest(world, n, rationale="A long enough rationale " * 3)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, people.reviewer.username)
    page.goto(f"{live_server.url}/queues/refunds/items/")
    expect(rows(page)).to_have_count(3)
    # The page itself never scrolls sideways; the table's own box does.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    wrap = page.locator("#items .table-wrap")
    sizes = wrap.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert sizes[0] > sizes[1]
    # The filters used less often are folded away, so the table starts within two screens;
    # opened, they stack two a row, each inside the viewport.
    table_top = page.locator("#items").bounding_box()
    assert table_top is not None and table_top["y"] < 2 * 844
    expect(page.get_by_label("Route", exact=True)).to_be_hidden()
    page.get_by_text("More filters").click()
    for label in ("Search", "Route", "Sort", "Model version", "Risk from", "Risk to"):
        box = page.get_by_label(label, exact=True).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, label
    shot("items-list-390")
