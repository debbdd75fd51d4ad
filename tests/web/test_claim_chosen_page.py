"""The review page opens on an item chosen elsewhere (the items list's Review button)."""

from django.test import Client

from reviewqueue.services.assignment import recommendation_assign
from reviewqueue.services.ingest import recommendation_ingest
from tests.conftest import item


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_review_on_a_chosen_item_claims_it_and_the_page_shows_it(world, people):
    recommendation_ingest(source=world.source, data=item(external_id="first", priority=9))
    chosen, _ = recommendation_ingest(source=world.source, data=item(external_id="chosen"))
    client = signed_in(people.reviewer)
    response = client.post(f"/queues/refunds/review/{chosen.pk}/claim")
    assert (response.status_code, response["Location"]) == (303, "/queues/refunds/review/")
    page = client.get("/queues/refunds/review/").content.decode()
    assert f'data-rec="{chosen.pk}"' in page
    assert "Assigned to you" not in page


def test_an_item_someone_else_holds_sends_the_reviewer_back_with_the_reason(world, people):
    rec, _ = recommendation_ingest(source=world.source, data=item())
    signed_in(people.senior).post(f"/queues/refunds/review/{rec.pk}/claim")
    client = signed_in(people.reviewer)
    response = client.post(f"/queues/refunds/review/{rec.pk}/claim", follow=True)
    assert "Another reviewer holds this item now." in response.content.decode()


def test_the_assignee_sees_assigned_to_you(world, people):
    rec, _ = recommendation_ingest(source=world.source, data=item())
    recommendation_assign(user=people.senior, recommendation_id=rec.pk, assignee="rita")
    client = signed_in(people.reviewer)
    client.post("/queues/refunds/review/claim")
    assert "Assigned to you" in client.get("/queues/refunds/review/").content.decode()
