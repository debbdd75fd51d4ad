"""Staged-autonomy API for people: QA verdicts on sampled auto-executed items, and an
admin moving a queue between stages."""

from typing import Any

from drf_spectacular.utils import extend_schema
from jsonschema import Draft202012Validator
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response

from reviewqueue.api.auth import ApiKeyAuthentication, PersonalTokenAuthentication, SourcePrincipal
from reviewqueue.api.review import ReviewerAPIView, _person, _uuid
from reviewqueue.api.schema import problems
from reviewqueue.models import Incident, QaReview, StageChange
from reviewqueue.representations import iso
from reviewqueue.selectors.incidents import incident_list
from reviewqueue.services.incidents import incident_record, incident_resolve
from reviewqueue.services.qa import qa_review_record
from reviewqueue.services.review import queue_for
from reviewqueue.services.stages import stage_change

_QA_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["verdict"],
    "properties": {
        "verdict": {"type": "string", "enum": ["correct", "incorrect"]},
        "reason_code": {"type": "string", "maxLength": 100},
        "comment": {"type": "string", "maxLength": 5000},
    },
}
_STAGE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to_stage"],
    "properties": {
        "to_stage": {
            "type": "string",
            "enum": ["shadow", "approval", "supervised", "autonomous"],
        },
        "comment": {"type": "string", "maxLength": 5000},
    },
}
_INCIDENT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["severity", "summary"],
    "properties": {
        "severity": {"type": "string", "enum": ["high", "medium", "low"]},
        "summary": {"type": "string", "minLength": 1, "maxLength": 5000},
        "recommendation_ids": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 100,
            "uniqueItems": True,
        },
    },
}
_RESOLVE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"resolution": {"type": "string", "maxLength": 5000}},
}
_INCIDENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "queue": {"type": "string"},
        "severity": {"type": "string", "enum": ["high", "medium", "low"]},
        "summary": {"type": "string"},
        "recommendation_ids": {"type": "array", "items": {"type": "string"}},
        "reported_by": {"type": "string"},
        "reported_at": {"type": "string", "format": "date-time"},
        "resolved": {"type": "boolean"},
        "resolved_by": {"type": ["string", "null"]},
        "resolved_at": {"type": ["string", "null"], "format": "date-time"},
        "resolution": {"type": "string"},
    },
}
_QA_VALIDATOR = Draft202012Validator(_QA_BODY)
_STAGE_VALIDATOR = Draft202012Validator(_STAGE_BODY)
_INCIDENT_VALIDATOR = Draft202012Validator(_INCIDENT_BODY)
_RESOLVE_VALIDATOR = Draft202012Validator(_RESOLVE_BODY)


def qa_review_repr(review: QaReview) -> dict[str, Any]:
    return {
        "recommendation": str(review.recommendation_id),
        "verdict": review.verdict,
        "reason_code": review.reason_code,
        "comment": review.comment,
        "reviewer": review.reviewer.get_username(),
        "reviewed_at": iso(review.reviewed_at),
    }


def stage_change_repr(change: StageChange) -> dict[str, Any]:
    return {
        "id": str(change.pk),
        "queue": change.queue.slug,
        "from_stage": change.from_stage,
        "to_stage": change.to_stage,
        "kind": change.kind,
        "by": change.actor_label,
        "comment": change.comment,
        "evidence": change.evidence,
        "changed_at": iso(change.changed_at),
    }


class RecommendationQa(ReviewerAPIView):
    @extend_schema(
        operation_id="recommendations_qa",
        request={"application/json": _QA_BODY},
        responses={200: dict, **problems(400, 403, 404, 409)},
        tags=["review"],
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        body = self.body(request, _QA_VALIDATOR)
        review = qa_review_record(
            user=_person(request),
            recommendation_id=_uuid(recommendation_id),
            verdict=body["verdict"],
            reason_code=body.get("reason_code", ""),
            comment=body.get("comment", ""),
        )
        return Response(qa_review_repr(review))


class QueueStage(ReviewerAPIView):
    @extend_schema(
        operation_id="queues_stage",
        request={"application/json": _STAGE_BODY},
        responses={200: dict, **problems(400, 403, 404, 409)},
        tags=["stages"],
    )
    def post(self, request: Request, slug: str) -> Response:
        body = self.body(request, _STAGE_VALIDATOR)
        change = stage_change(
            queue=queue_for(slug=slug),
            to_stage=body["to_stage"],
            user=_person(request),
            comment=body.get("comment", ""),
        )
        return Response(stage_change_repr(change))


def incident_repr(incident: Incident) -> dict[str, Any]:
    return {
        "id": str(incident.pk),
        "queue": incident.queue.slug,
        "severity": incident.severity,
        "summary": incident.summary,
        "recommendation_ids": sorted(str(r.pk) for r in incident.recommendations.all()),
        "reported_by": incident.reported_by.get_username(),
        "reported_at": iso(incident.reported_at),
        "resolved": incident.resolved_at is not None,
        "resolved_by": incident.resolved_by.get_username() if incident.resolved_by else None,
        "resolved_at": iso(incident.resolved_at) if incident.resolved_at else None,
        "resolution": incident.resolution,
    }


class IsPersonNotSource(permissions.BasePermission):
    """People only. A source's API key is recognised, so that it hears a plain 403 (sources
    never record incidents) rather than being asked to sign in."""

    def has_permission(self, request: Request, view: object) -> bool:
        if isinstance(request.user, SourcePrincipal):
            raise exceptions.PermissionDenied("Sources cannot read or record incidents.")
        if not (getattr(request.user, "is_authenticated", False) and request.user.pk):
            raise exceptions.NotAuthenticated(
                "Sign in, or send 'Authorization: Token <personal token>'."
            )
        return True


class _IncidentAPIView(ReviewerAPIView):
    # The personal token first: its scheme is the one a 401 asks for.
    authentication_classes = [
        PersonalTokenAuthentication,
        ApiKeyAuthentication,
        authentication.SessionAuthentication,
    ]
    permission_classes = [IsPersonNotSource]


class QueueIncidents(_IncidentAPIView):
    @extend_schema(
        operation_id="queues_incidents_list",
        responses={200: {"type": "array", "items": _INCIDENT}, **problems(403, 404)},
        tags=["stages"],
    )
    def get(self, request: Request, slug: str) -> Response:
        incidents = incident_list(user=_person(request), queue=queue_for(slug=slug))
        return Response([incident_repr(i) for i in incidents])

    @extend_schema(
        operation_id="queues_incidents_create",
        request={"application/json": _INCIDENT_BODY},
        responses={201: _INCIDENT, **problems(400, 403, 404)},
        tags=["stages"],
    )
    def post(self, request: Request, slug: str) -> Response:
        body = self.body(request, _INCIDENT_VALIDATOR)
        incident = incident_record(
            queue=queue_for(slug=slug),
            user=_person(request),
            severity=body["severity"],
            summary=body["summary"],
            recommendation_ids=body.get("recommendation_ids", []),
        )
        return Response(incident_repr(incident), status=201)


class QueueIncidentResolve(_IncidentAPIView):
    @extend_schema(
        operation_id="queues_incidents_resolve",
        request={"application/json": _RESOLVE_BODY},
        responses={200: _INCIDENT, **problems(400, 403, 404, 409)},
        tags=["stages"],
    )
    def post(self, request: Request, slug: str, incident_id: int) -> Response:
        body = self.body(request, _RESOLVE_VALIDATOR)
        incident = incident_resolve(
            queue=queue_for(slug=slug),
            incident_id=incident_id,
            user=_person(request),
            resolution=body.get("resolution", ""),
        )
        return Response(incident_repr(incident))
