"""Incidents through the API: admins record and resolve them, admins and auditors read
them, reviewers and sources are refused; every change is audited; none is ever deleted."""

import pytest
from django.db import DatabaseError, transaction

from reviewqueue.models import AuditEvent, Incident
from reviewqueue.services.incidents import incident_record
from tests.api.test_review import add, as_user

URL = "/api/v1/queues/refunds/incidents"


def test_admin_records_an_incident_with_items_of_the_queue(world, people):
    a, b = add(world, external_id="a"), add(world, external_id="b")
    response = as_user(people.admin).post(
        URL,
        {
            "severity": "high",
            "summary": "Refunded twice",
            "recommendation_ids": [str(a.pk), str(b.pk)],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["severity"] == "high" and body["summary"] == "Refunded twice"
    assert body["recommendation_ids"] == sorted([str(a.pk), str(b.pk)])
    assert body["resolved"] is False and body["reported_by"] == "ada"
    events = AuditEvent.objects.filter(action="incident.recorded")
    assert events.count() == 1
    assert events.get().data["incident"] == int(body["id"])
    assert events.get().queue_id == world.queue.pk


def test_ids_outside_the_queue_are_refused_and_named(world, people):
    mine = add(world, external_id="mine")
    from reviewqueue.services.ingest import recommendation_ingest
    from tests.conftest import item

    theirs, _ = recommendation_ingest(
        source=world.other_source, data=item(queue="other", external_id="theirs")
    )
    response = as_user(people.admin).post(
        URL,
        {
            "severity": "low",
            "summary": "x",
            "recommendation_ids": [str(mine.pk), str(theirs.pk), "not-a-uuid"],
        },
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["errors"]["recommendation_ids"]
    assert str(theirs.pk) in message and "not-a-uuid" in message and str(mine.pk) not in message
    assert not Incident.objects.exists()
    assert not AuditEvent.objects.filter(action="incident.recorded").exists()


def test_bad_severity_and_blank_summary_are_400(world, people):
    client = as_user(people.admin)
    response = client.post(URL, {"severity": "urgent", "summary": ""}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"severity"}


@pytest.mark.parametrize("who", ["reviewer", "auditor"])
def test_people_other_than_admins_may_not_record(world, people, who):
    response = as_user(getattr(people, who)).post(
        URL, {"severity": "high", "summary": "x"}, format="json"
    )
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_sources_are_refused_with_403(world, people):
    response = world.client().post(URL, {"severity": "high", "summary": "x"}, format="json")
    assert response.status_code == 403
    assert world.client().get(URL).status_code == 403


def test_admins_and_auditors_list_incidents_reviewers_do_not(world, people):
    incident_record(queue=world.queue, user=people.admin, severity="medium", summary="slow")
    for who in ("admin", "auditor"):
        response = as_user(getattr(people, who)).get(URL)
        assert response.status_code == 200
        assert [i["summary"] for i in response.json()] == ["slow"]
    assert as_user(people.reviewer).get(URL).status_code == 403


def test_unknown_queue_is_404(world, people):
    response = as_user(people.admin).get("/api/v1/queues/nope/incidents")
    assert response.status_code == 404


def test_resolve_is_audited_once_and_conflicts_the_second_time(world, people):
    incident = incident_record(queue=world.queue, user=people.admin, severity="high", summary="x")
    client = as_user(people.admin)
    url = f"{URL}/{incident.pk}/resolve"
    response = client.post(url, {"resolution": "refunds reversed"}, format="json")
    assert response.status_code == 200
    assert response.json()["resolved"] is True
    assert response.json()["resolution"] == "refunds reversed"
    assert client.post(url, {}, format="json").status_code == 409
    assert AuditEvent.objects.filter(action="incident.resolved").count() == 1
    assert as_user(people.auditor).post(url, {}, format="json").status_code == 403


def test_resolving_an_incident_of_another_queue_is_404(world, people):
    incident = incident_record(
        queue=world.other_queue, user=people.admin, severity="low", summary="x"
    )
    response = as_user(people.admin).post(f"{URL}/{incident.pk}/resolve", {}, format="json")
    assert response.status_code == 404


def test_incidents_are_never_deleted(world, people):
    incident = incident_record(queue=world.queue, user=people.admin, severity="low", summary="x")
    with pytest.raises(DatabaseError, match="never deleted"), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).delete()
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_the_schema_documents_the_incident_endpoints(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/v1/queues/{slug}/incidents"]
    assert "get" in schema["paths"]["/api/v1/queues/{slug}/incidents"]
    assert "/api/v1/queues/{slug}/incidents/{incident_id}/resolve" in schema["paths"]
