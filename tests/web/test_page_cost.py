"""The review page's SQL cost, authentication included, is constant in queue size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewqueue.services.ingest import recommendation_ingest_batch
from reviewqueue.services.review import recommendation_decide
from tests.api.test_ingest import work
from tests.conftest import item


@pytest.mark.django_db(transaction=True)
def test_the_review_page_costs_at_most_eight_statements_whatever_the_queue_size(
    world, people, client
):
    reviewer = people.reviewer
    client.force_login(reviewer)
    counts = []
    for size in (1, 5, 2000):
        recommendation_ingest_batch(
            source=world.source, items=[item(external_id=f"p{size}-{i}") for i in range(size)]
        )
        assert client.post("/queues/refunds/review/claim").status_code == 303
        with CaptureQueriesContext(connection) as page:
            response = client.get("/queues/refunds/review/")
        # Read now: the next request's reset_queries clears the log the capture points into.
        counts.append(work(page))
        assert response.status_code == 200 and b"Approve" in response.content
        # Decide through the service so nothing is held at the next claim (the page's POST
        # would claim the next item in the same request).
        recommendation_decide(
            user=reviewer, recommendation_id=response.context["rec"].pk, outcome="approve"
        )
    assert counts[1] == counts[2], counts
    # 8 today: the session (read from the database since Redis left the request path), the
    # user, and six for the page and the item held (the GET only reads).
    assert 0 < len(counts[2]) <= 8, counts
