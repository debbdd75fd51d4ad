"""Undo on the review page without JavaScript: the plain-form decision redirects to a page
that offers Undo while the window is open (issue 17 #5)."""

from django.test import Client

from reviewqueue.models import Queue
from tests.browser.helpers import ingest


def test_without_javascript_the_form_post_offers_undo_after_the_redirect(world, people):
    Queue.objects.filter(pk=world.queue.pk).update(undo_seconds=60)
    rec = ingest(world, 0)
    client = Client()
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    response = client.post(f"/queues/refunds/review/{rec.pk}/decide", {"outcome": "approve"})
    assert response["Location"] == f"/queues/refunds/review/?undo={rec.pk}"
    page = client.get(response["Location"]).content.decode()
    assert f'action="/queues/refunds/review/{rec.pk}/undo"' in page
    response = client.post(f"/queues/refunds/review/{rec.pk}/undo")
    assert response.status_code == 303
    assert f'data-rec="{rec.pk}"' in client.get("/queues/refunds/review/").content.decode()


def test_no_undo_offer_when_the_queue_has_no_window(world, people):
    rec = ingest(world, 0)
    client = Client()
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    response = client.post(f"/queues/refunds/review/{rec.pk}/decide", {"outcome": "approve"})
    assert response["Location"] == "/queues/refunds/review/"
    forged = client.get(f"/queues/refunds/review/?undo={rec.pk}").content.decode()
    assert "/undo" not in forged
