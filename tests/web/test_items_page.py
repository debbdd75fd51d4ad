"""The items list page: who may open it, the htmx table region, saved views and the
remembered filters."""

import pytest
from django.test import Client

from reviewqueue.models import Recommendation, SavedView
from reviewqueue.services.saved_views import MAX_VIEWS
from tests.api.test_items import add

PAGE = "/queues/refunds/items/"
HX = {"HTTP_HX_REQUEST": "true"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def three(world, people):
    add(world, "alpha-1", priority=2, risk_score=0.8, rationale="The blue kettle")
    add(world, "beta-2", priority=1, risk_score=0.2)
    add(world, "gamma-3", risk_score=0.5)
    Recommendation.objects.filter(external_id="beta-2").update(assigned_to=people.reviewer)


def rows_of(response) -> list[str]:
    text = response.content.decode()
    return [part.split('"', 1)[0] for part in text.split('data-external-id="')[1:]]


def test_renders_for_a_member_with_the_items_in_priority_order(three, people):
    response = signed_in(people.reviewer).get(PAGE)
    assert response.status_code == 200
    assert rows_of(response) == ["alpha-1", "beta-2", "gamma-3"]
    text = response.content.decode()
    assert 'id="filters"' in text and 'method="get"' in text
    assert text.count("data-assigned-to-you") == 1  # beta-2, rita's


def test_outsider_gets_404_and_readers_of_every_queue_200(three, people):
    assert signed_in(people.outsider).get(PAGE).status_code == 404
    assert signed_in(people.auditor).get(PAGE).status_code == 200
    assert signed_in(people.admin).get(PAGE).status_code == 200
    assert signed_in(people.reviewer).get("/queues/no-such/items/").status_code == 404


def test_filters_and_sort_narrow_and_order_the_table(three, people):
    client = signed_in(people.reviewer)
    assert rows_of(client.get(PAGE, {"q": "blue kettle"})) == ["alpha-1"]
    assert rows_of(client.get(PAGE, {"sort": "risk_score"})) == ["beta-2", "gamma-3", "alpha-1"]
    assert rows_of(client.get(PAGE, {"assigned_to": "me"})) == ["beta-2"]


def test_htmx_request_gets_the_table_partial_only(three, people):
    response = signed_in(people.reviewer).get(PAGE, {"sort": "-created_at"}, **HX)
    text = response.content.decode()
    assert response.status_code == 200
    assert 'id="items"' in text and "<html" not in text and 'id="filters"' not in text
    assert 'id="f-sort"' in text and 'hx-swap-oob="true"' in text  # the sort control follows
    assert rows_of(response) == ["gamma-3", "beta-2", "alpha-1"]
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_bad_input_is_400_with_the_parameter_named(three, people):
    response = signed_in(people.reviewer).get(PAGE, {"risk_min": "0.9", "risk_max": "0.1"}, **HX)
    assert response.status_code == 400
    assert "risk_min" in response.content.decode()


def test_pages_link_to_the_next(world, people):
    for i in range(3):
        add(world, f"p{i}")
    client = signed_in(people.reviewer)
    response = client.get(PAGE, {"limit": "2"})
    assert "data-next" in response.content.decode()
    assert len(rows_of(response)) == 2


def test_last_filters_are_remembered_per_user_and_queue(three, people):
    client = signed_in(people.reviewer)
    client.get(PAGE, {"q": "blue kettle", "sort": "priority"})
    assert rows_of(client.get(PAGE)) == ["alpha-1"]  # opened bare: the last filters
    assert len(rows_of(signed_in(people.senior).get(PAGE))) == 3  # someone else: none
    client.get(PAGE, {"sort": "priority"})  # cleared
    assert len(rows_of(client.get(PAGE))) == 3
    assert SavedView.objects.filter(user=people.reviewer, name="").count() == 1


def test_save_list_load_and_delete_a_view(three, people):
    client = signed_in(people.reviewer)
    response = client.post(
        f"{PAGE}views", {"name": "  Risky   ones ", "query": "risk_min=0.5&sort=-risk_score"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}?risk_min=0.5&sort=-risk_score"
    view = SavedView.objects.get(user=people.reviewer, name="Risky ones")
    page = client.get(PAGE, {"sort": "priority"}).content.decode()
    assert 'data-view="Risky ones"' in page
    assert f'href="{PAGE}?risk_min=0.5&amp;sort=-risk_score"' in page
    assert rows_of(client.get(response["Location"])) == ["alpha-1", "gamma-3"]  # load it
    # Someone else cannot delete it.
    assert signed_in(people.senior).post(f"{PAGE}views/{view.pk}/delete").status_code == 404
    assert client.post(f"{PAGE}views/{view.pk}/delete").status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Give the view a name"), ("x" * 61, "at most 60 characters")],
)
def test_view_names_are_checked(three, people, name, message):
    client = signed_in(people.reviewer)
    response = client.post(f"{PAGE}views", {"name": name, "query": ""}, follow=True)
    assert message in response.content.decode()
    assert not SavedView.objects.exclude(name="").exists()


def test_a_duplicate_name_whatever_its_case_is_refused(three, people):
    client = signed_in(people.reviewer)
    client.post(f"{PAGE}views", {"name": "Mine", "query": "q=a"})
    response = client.post(f"{PAGE}views", {"name": "MINE", "query": "q=b"}, follow=True)
    assert "You already have a view named “MINE”" in response.content.decode()
    assert SavedView.objects.exclude(name="").count() == 1


def test_at_most_ten_views(three, people):
    client = signed_in(people.reviewer)
    for i in range(MAX_VIEWS):
        assert client.post(f"{PAGE}views", {"name": f"v{i}", "query": ""}).status_code == 302
    response = client.post(f"{PAGE}views", {"name": "one more", "query": ""}, follow=True)
    assert f"up to {MAX_VIEWS} views" in response.content.decode()
    assert SavedView.objects.exclude(name="").count() == MAX_VIEWS


def test_a_view_with_bad_filters_is_refused(three, people):
    response = signed_in(people.reviewer).post(
        f"{PAGE}views", {"name": "bad", "query": "sort=nope"}, follow=True
    )
    assert "sort" in response.content.decode()
    assert not SavedView.objects.exclude(name="").exists()


def test_blind_items_show_no_risk_or_confidence_to_a_reviewer(world, people):
    from reviewqueue.models import Queue

    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=True)
    add(world, "blind-1", risk_score=0.8765, confidence=0.4321)
    text = signed_in(people.reviewer).get(PAGE).content.decode()
    assert "0.88" not in text and "0.43" not in text and "hidden" in text
    assert "0.88" in signed_in(people.auditor).get(PAGE).content.decode()


def test_queue_page_and_review_page_link_to_the_list(three, people):
    client = signed_in(people.reviewer)
    assert f'href="{PAGE}"' in client.get("/queues/refunds/").content.decode()
    assert f'href="{PAGE}"' in client.get("/queues/refunds/review/").content.decode()


def test_review_on_a_row_claims_that_item_and_opens_the_review_page(client, world, people):
    """The list's Review button is a POST to claim-chosen (issue 17 #2): no GET claims."""
    from reviewqueue.models import Recommendation
    from reviewqueue.services.ingest import recommendation_ingest
    from tests.conftest import item as body

    first, _ = recommendation_ingest(source=world.source, data=body(external_id="a", priority=5))
    chosen, _ = recommendation_ingest(source=world.source, data=body(external_id="b"))
    client.force_login(people.reviewer)
    page = client.get("/queues/refunds/items/").content.decode()
    action = f'action="/queues/refunds/review/{chosen.pk}/claim"'
    assert action in page
    response = client.post(f"/queues/refunds/review/{chosen.pk}/claim")
    assert response.status_code == 303
    assert Recommendation.objects.get(pk=chosen.pk).claimed_by_id == people.reviewer.pk
    assert Recommendation.objects.get(pk=first.pk).status == "pending"
    client.force_login(people.auditor)
    assert "/claim" not in client.get("/queues/refunds/items/").content.decode()
