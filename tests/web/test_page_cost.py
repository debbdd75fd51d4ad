"""The review page's SQL cost, authentication included, is constant in queue size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewqueue.services.ingest import recommendation_ingest_batch
from tests.api.test_ingest import work
from tests.conftest import item
from tests.factories import UserFactory, member


@pytest.mark.django_db(transaction=True)
def test_the_review_page_costs_at_most_eight_statements_whatever_the_queue_size(world, client):
    reviewer = UserFactory(username="rita")
    member(reviewer, world.queue)
    client.force_login(reviewer)
    counts = []
    for size in (1, 5, 2000):
        recommendation_ingest_batch(
            source=world.source, items=[item(external_id=f"p{size}-{i}") for i in range(size)]
        )
        with CaptureQueriesContext(connection) as page:
            response = client.get("/queues/refunds/review/")
        assert response.status_code == 200 and b"Approve" in response.content
        rec_id = response.context["rec"].pk
        response = client.post(
            f"/queues/refunds/review/{rec_id}/decide", {"outcome": "approve"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
        counts.append(work(page))
    assert counts[1] == counts[2], counts
    assert len(counts[2]) <= 8, counts
