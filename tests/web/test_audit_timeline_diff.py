"""The item page's audit timeline reads as words (issue 17 #8e): a decision's payload diff as
field, before and after; other values as text, not JSON."""

from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from tests.conftest import item


def test_a_modify_decision_shows_field_before_and_after(client, world, people):
    rec, _ = recommendation_ingest(
        source=world.source,
        data=item(
            action={
                "type": "refund.issue",
                "payload": {"order_id": "A-1", "amount": 40.0, "note": "<b>hi</b>"},
            }
        ),
    )
    recommendation_claim(user=people.reviewer, queue=world.queue)
    recommendation_decide(
        user=people.reviewer,
        recommendation_id=rec.pk,
        outcome="modify",
        payload={"order_id": "A-1", "amount": 25.5, "currency": "EUR"},
        reason_code="wrong_amount",
        comment="charged <i>twice</i>",
    )
    client.force_login(people.reviewer)
    page = client.get(f"/recommendations/{rec.pk}/").content.decode()
    timeline = page[page.index('id="timeline"') :]
    assert "data-event-diff" in timeline
    assert '<th scope="row" class="mono">amount</th>' in timeline
    assert "<del>40.0</del>" in timeline and "<ins>25.5</ins>" in timeline
    assert "(not set)" in timeline and "<ins>EUR</ins>" in timeline  # currency added
    assert "<del>&lt;b&gt;hi&lt;/b&gt;</del>" in timeline and "(removed)" in timeline
    assert "<dd>wrong_amount</dd>" in timeline  # text, not "\"wrong_amount\""
    assert "charged &lt;i&gt;twice&lt;/i&gt;" in timeline
    assert '"path"' not in timeline and "&quot;path&quot;" not in timeline
