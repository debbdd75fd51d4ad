"""On PostgreSQL, 16 reviewers claiming from one queue at once never hold the same item."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from reviewqueue.models import AuditEvent, Decision
from reviewqueue.services.ingest import recommendation_ingest_batch
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from tests.conftest import item
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_sixteen_threads_claiming_never_share_an_item(world):
    recommendation_ingest_batch(
        source=world.source, items=[item(external_id=f"c-{i}", priority=i % 3) for i in range(120)]
    )
    reviewers = [UserFactory(username=f"r{i}") for i in range(16)]
    for user in reviewers:
        member(user, world.queue)
    barrier = threading.Barrier(16)

    def work(user):
        barrier.wait()
        seen = []
        try:
            while True:
                rec = recommendation_claim(user=user, queue=world.queue)
                if rec is None:
                    return seen
                seen.append(rec.pk)
                recommendation_decide(user=user, recommendation_id=rec.pk, outcome="approve")
        finally:
            connection.close()

    with ThreadPoolExecutor(16) as pool:
        per_user = list(pool.map(work, reviewers))
    claimed = [pk for seen in per_user for pk in seen]
    assert len(claimed) == 120 and len(set(claimed)) == 120
    assert Decision.objects.count() == 120
    claims = Counter(
        AuditEvent.objects.filter(action="recommendation.claimed").values_list(
            "recommendation_id", flat=True
        )
    )
    assert set(claims.values()) == {1}
    assert sum(1 for seen in per_user if seen) > 1  # the work really was shared
