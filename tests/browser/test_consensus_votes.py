"""Consensus on the review page (issue 18 #1): two reviewers vote without seeing each other's
vote; they disagree, and the senior who takes the escalated item sees both votes side by side
with the difference between the modified payloads, and decides finally."""

import pytest
from playwright.sync_api import Page, expect

from reviewqueue.models import Decision, Queue
from reviewqueue.services.review import recommendation_claim_chosen, recommendation_decide
from tests.browser.helpers import ingest, login, settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_senior_sees_both_votes_side_by_side_and_decides(
    page: Page, live_server, world, people, rob, shot
):
    Queue.objects.filter(pk=world.queue.pk).update(reviewers_per_item=2)
    rec = ingest(world, 0)
    # Rita votes in the browser: the page says her vote is recorded, and shows no decision.
    login(page, live_server.url, people.reviewer.username)
    page.goto(f"{live_server.url}/queues/refunds/review/")
    page.keyboard.press("n")
    expect(page.locator(f'#item [data-rec="{rec.pk}"]')).to_be_visible()
    settled(page)
    expect(page.locator("#item [data-votes]")).to_have_count(0)
    page.locator('#item [data-action="approve"]').click()
    expect(page.locator("main")).to_contain_text("Recorded your vote on ticket-0")
    # Rob modifies (over the API's service); the votes disagree and the item escalates.
    recommendation_claim_chosen(user=rob, recommendation_id=rec.pk)
    recommendation_decide(
        user=rob,
        recommendation_id=rec.pk,
        outcome="modify",
        payload={"order_id": "A-1", "amount": 25},
        reason_code="wrong_amount",
    )
    page.context.clear_cookies()
    login(page, live_server.url, people.senior.username)
    page.goto(f"{live_server.url}/queues/refunds/review/")
    page.keyboard.press("n")
    expect(page.locator(f'#item [data-rec="{rec.pk}"]')).to_be_visible()
    votes = page.locator("#item [data-votes]")
    expect(votes).to_be_visible()
    expect(votes.locator('[data-vote="rita"] [data-vote-outcome]')).to_have_text("approve")
    expect(votes.locator('[data-vote="rob"] [data-vote-outcome]')).to_have_text("modify")
    expect(votes.locator("[data-votes-diff]")).to_have_count(0)  # one modify: nothing to compare
    expect(votes.locator('[data-vote="rob"]')).to_contain_text("25")
    shot("consensus-senior-votes")
    page.locator('#item [data-action="approve"]').click()
    expect(page.locator("main")).to_contain_text("Approved ticket-0")
    decision = Decision.objects.get(recommendation=rec)
    assert (decision.reviewer_id, decision.outcome) == (people.senior.pk, "approve")


def test_the_reports_page_shows_agreement(page: Page, live_server, world, people, rob, shot):
    Queue.objects.filter(pk=world.queue.pk).update(reviewers_per_item=2)
    outcomes = [("approve", "approve")] * 3 + [("reject", "reject"), ("approve", "reject")]
    for n, (mine, theirs) in enumerate(outcomes):
        rec = ingest(world, n)
        for user, outcome in ((people.reviewer, mine), (rob, theirs)):
            recommendation_claim_chosen(user=user, recommendation_id=rec.pk)
            recommendation_decide(
                user=user,
                recommendation_id=rec.pk,
                outcome=outcome,
                reason_code="other" if outcome == "reject" else "",
            )
    login(page, live_server.url, people.admin.username)
    page.goto(f"{live_server.url}/reports/?queue=refunds")
    section = page.locator("#agreement")
    expect(section).to_contain_text("Inter-reviewer agreement")
    expect(section.locator('tr[data-agreement="queue"]')).to_contain_text("80.0%")
    expect(section.locator('tr[data-agreement="pair"]')).to_contain_text("rita & rob")
    section.screenshot(
        path=str(shot("reports-agreement").with_name("reports-agreement-section.png"))
    )
