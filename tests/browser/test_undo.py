"""Undo on the review page (issue 17 #5): the notice after a decision offers Undo, by button
and by `z`, while the queue's window is open; the item comes back to the reviewer."""

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import Decision, Queue, Recommendation, UndoneDecision
from tests.browser.helpers import ingest, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def start(page: Page, url: str, username: str) -> None:
    login(page, url, username)
    page.goto(f"{url}/queues/refunds/review/")
    page.keyboard.press("n")
    expect(page.locator("#item [data-rec]")).to_be_visible()


def test_z_undoes_the_approval_just_made_and_the_item_comes_back(
    page: Page, live_server, world, people
):
    Queue.objects.filter(pk=world.queue.pk).update(undo_seconds=60)
    first = ingest(world, 0)
    start(page, live_server.url, people.reviewer.username)
    page.keyboard.press("a")
    undo = page.locator("#item [data-undo]")
    expect(undo).to_be_visible()
    # The notice (htmx) or the message after a plain-form redirect (a key pressed before htmx
    # started): either way the page says so, and offers Undo.
    expect(page.locator("main")).to_contain_text("Approved ticket-0")
    page.keyboard.press("z")
    expect(page.locator("main")).to_contain_text("Undone")
    expect(page.locator(f'#item [data-rec="{first.pk}"]')).to_be_visible()
    assert not Decision.objects.filter(recommendation=first).exists()
    assert UndoneDecision.objects.filter(recommendation=first).count() == 1
    assert Recommendation.objects.get(pk=first.pk).status == "in_review"


def test_the_undo_button_goes_when_the_window_closes(page: Page, live_server, world, people):
    Queue.objects.filter(pk=world.queue.pk).update(undo_seconds=2)
    ingest(world, 0)
    start(page, live_server.url, people.reviewer.username)
    page.locator('#item [data-action="approve"]').click()
    expect(page.locator("#item [data-undo]")).to_be_visible()
    # Waits on the browser's own timer: gone within the window plus a margin.
    expect(page.locator("#item [data-undo]")).to_have_count(0, timeout=15_000)
