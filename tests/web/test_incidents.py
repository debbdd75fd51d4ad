"""The incidents page: an admin records and resolves incidents with forms; auditors read;
reviewers are refused; the queue page lists them; the readiness gate counts them."""

from reviewqueue.models import AuditEvent, Incident
from reviewqueue.services.incidents import incident_record
from tests.api.test_review import add

PAGE = "/queues/refunds/incidents/"


def test_admin_records_an_incident_through_the_form(world, people, client):
    rec = add(world, external_id="bad-one")
    client.force_login(people.admin)
    response = client.post(
        PAGE, {"severity": "high", "summary": "Paid twice", "recommendation_ids": str(rec.pk)}
    )
    assert response.status_code == 302 and response["Location"] == PAGE
    incident = Incident.objects.get()
    assert incident.severity == "high" and list(incident.recommendations.all()) == [rec]
    assert AuditEvent.objects.filter(action="incident.recorded").count() == 1
    html = client.get(PAGE).content.decode()
    assert "Paid twice" in html and "bad-one" in html


def test_the_form_shows_errors_and_keeps_the_input(world, people, client):
    client.force_login(people.admin)
    response = client.post(
        PAGE, {"severity": "high", "summary": "keep me", "recommendation_ids": "nope"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "nope" in html and "keep me" in html and "Not items of queue" in html
    assert not Incident.objects.exists()


def test_resolve_button_resolves_and_the_row_says_so(world, people, client):
    incident = incident_record(queue=world.queue, user=people.admin, severity="high", summary="x")
    client.force_login(people.admin)
    response = client.post(f"{PAGE}{incident.pk}/resolve", {"resolution": "fixed it"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.resolved_by == people.admin
    html = client.get(PAGE).content.decode()
    assert "resolved" in html and "fixed it" in html
    assert AuditEvent.objects.filter(action="incident.resolved").count() == 1


def test_queue_page_lists_incidents_for_admins_and_auditors_only(world, people, client):
    incident_record(
        queue=world.queue, user=people.admin, severity="medium", summary="slow callbacks"
    )
    auditor, reviewer = people.auditor, people.reviewer
    for user, shown in ((people.admin, True), (auditor, True), (reviewer, False)):
        client.force_login(user)
        html = client.get("/queues/refunds/").content.decode()
        assert ("slow callbacks" in html) is shown, user
    client.force_login(auditor)
    html = client.get(PAGE).content.decode()
    assert "slow callbacks" in html and "Record an incident" not in html
    assert client.post(PAGE, {"severity": "low", "summary": "x"}).status_code == 403
    client.force_login(reviewer)
    assert client.get(PAGE).status_code == 403


def test_a_high_incident_makes_the_incidents_gate_unmet(world, people, client):
    client.force_login(people.admin)
    html = client.get("/queues/refunds/").content.decode()
    assert 'data-gate="incidents"' in html
    incident_record(queue=world.queue, user=people.admin, severity="high", summary="outage")
    html = client.get("/queues/refunds/").content.decode()
    gate = html.split('data-gate="incidents"')[1].split("</tr>")[0]
    assert "not met" in gate and "1 high-severity incident" in gate
