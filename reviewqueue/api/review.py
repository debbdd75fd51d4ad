"""Review API for people (session or personal token): claim, release, decide, escalate,
assign."""

import uuid
from typing import Any, cast

from drf_spectacular.utils import OpenApiResponse, extend_schema
from jsonschema import Draft202012Validator
from rest_framework import authentication, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewqueue import contracts
from reviewqueue.api.auth import PersonalTokenAuthentication
from reviewqueue.api.schema import problems
from reviewqueue.exceptions import NotFound, ValidationFailed
from reviewqueue.lib.schema import errors_by_path
from reviewqueue.models import Recommendation, User
from reviewqueue.representations import proposal_hidden, recommendation_repr
from reviewqueue.services import assignment, bulk, review, undo

_ITEM = OpenApiResponse(contracts.RECOMMENDATION)


class IsPerson(permissions.BasePermission):
    message = "Sign in, or send 'Authorization: Token <personal token>'."

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        return bool(
            user is not None
            and getattr(user, "is_authenticated", False)
            and getattr(user, "pk", None)
        )


class ReviewerAPIView(APIView):
    authentication_classes = [PersonalTokenAuthentication, authentication.SessionAuthentication]
    permission_classes = [IsPerson]

    def body(self, request: Request, validator: Draft202012Validator) -> dict[str, Any]:
        data = request.data
        errors = errors_by_path(validator, data)
        if errors:
            raise ValidationFailed("The request is not valid.", errors=errors)
        assert isinstance(data, dict)
        return data


_ESCALATE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"comment": {"type": "string", "maxLength": 5000}},
}
_ASSIGN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["user"],
    "properties": {
        "user": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": 150,
            "description": "The username of a reviewer of the item's queue; null unassigns.",
        }
    },
}
_BULK_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["ids", "outcome"],
    "properties": {
        "ids": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 100,
            "description": "Up to 100 distinct item ids of the queue.",
        },
        "outcome": {"type": "string", "enum": ["approve", "reject"]},
        "reason_code": {"type": "string", "maxLength": 100},
        "comment": {"type": "string", "maxLength": 5000},
    },
}
_BULK_RESULT = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"type": "integer", "enum": [200, 400, 403, 404, 409]},
                    "reason": {
                        "type": "string",
                        "description": "Why an item was refused: risk_above_bulk_max, "
                        "blind_review, not_waiting, held_by_other, not_in_queue, expired, ...",
                    },
                    "detail": {"type": "string"},
                    "outcome": {"type": "string"},
                    "execution": {"type": ["string", "null"]},
                },
            },
        }
    },
}
_DECISION_VALIDATOR = Draft202012Validator(contracts.OUTCOME_BODY)
_BULK_VALIDATOR = Draft202012Validator(_BULK_BODY)
_ASSIGN_VALIDATOR = Draft202012Validator(_ASSIGN_BODY)
_ESCALATE_VALIDATOR = Draft202012Validator(_ESCALATE_BODY)


class QueueClaim(ReviewerAPIView):
    @extend_schema(
        operation_id="queues_claim",
        request=None,
        responses={
            200: _ITEM,
            204: OpenApiResponse(description="Nothing waiting"),
            **problems(403, 404),
        },
        tags=["review"],
    )
    def post(self, request: Request, slug: str) -> Response:
        rec = review.recommendation_claim(user=_person(request), queue=slug)
        if rec is None:
            return Response(status=204)
        return _item(request, rec)


class RecommendationClaim(ReviewerAPIView):
    @extend_schema(
        operation_id="recommendations_claim",
        request=None,
        responses={200: _ITEM, **problems(403, 404, 409)},
        tags=["review"],
        description="Claim this item (chosen from the items list) under a lease. 409 `reason`: "
        "`held_by_other`, `already_decided`, `expired` or `not_waiting`.",
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        rec = review.recommendation_claim_chosen(
            user=_person(request), recommendation_id=_uuid(recommendation_id)
        )
        return _item(request, rec)


class RecommendationAssign(ReviewerAPIView):
    @extend_schema(
        operation_id="recommendations_assign",
        request={"application/json": _ASSIGN_BODY},
        responses={200: _ITEM, **problems(400, 403, 404, 409)},
        tags=["review"],
        description="Assign an open item to a reviewer of its queue (seniors and admins); "
        'claim-next offers it to them first. `{"user": null}` unassigns.',
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        body = self.body(request, _ASSIGN_VALIDATOR)
        rec = assignment.recommendation_assign(
            user=_person(request),
            recommendation_id=_uuid(recommendation_id),
            assignee=body["user"],
        )
        return _item(request, rec)


class QueueBulkDecision(ReviewerAPIView):
    @extend_schema(
        operation_id="queues_bulk_decision",
        request={"application/json": _BULK_BODY},
        responses={200: OpenApiResponse(_BULK_RESULT), **problems(400, 403, 404)},
        tags=["review"],
        description="Approve or reject up to 100 waiting items with one reason. Each item is "
        "claimed, decided and audited on its own (`bulk: true`); each gets its own result.",
    )
    def post(self, request: Request, slug: str) -> Response:
        body = self.body(request, _BULK_VALIDATOR)
        results = bulk.recommendations_bulk_decide(
            user=_person(request),
            queue=slug,
            ids=body["ids"],
            outcome=body["outcome"],
            reason_code=body.get("reason_code", ""),
            comment=body.get("comment", ""),
        )
        return Response({"results": [r.as_dict() for r in results]})


class RecommendationUndo(ReviewerAPIView):
    @extend_schema(
        operation_id="recommendations_undo",
        request=None,
        responses={200: _ITEM, **problems(403, 404, 409)},
        tags=["review"],
        description="Take back your decision within the queue's `undo_seconds`: the item is "
        "back in your hands under a fresh lease, its execution cancelled. 409 `reason`: "
        "`undo_window_closed`, `not_undoable` (a policy decision), `not_decided`.",
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        rec = undo.recommendation_undo(
            user=_person(request), recommendation_id=_uuid(recommendation_id)
        )
        return _item(request, rec)


class RecommendationRelease(ReviewerAPIView):
    @extend_schema(
        operation_id="recommendations_release",
        request=None,
        responses={200: _ITEM, **problems(403, 404, 409)},
        tags=["review"],
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        rec = review.recommendation_release(
            user=_person(request), recommendation_id=_uuid(recommendation_id)
        )
        return _item(request, rec)


class RecommendationDecision(ReviewerAPIView):
    @extend_schema(
        operation_id="recommendations_decide",
        request={"application/json": contracts.OUTCOME_BODY},
        responses={200: _ITEM, **problems(400, 403, 404, 409)},
        tags=["review"],
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        body = self.body(request, _DECISION_VALIDATOR)
        rec = review.recommendation_decide(
            user=_person(request),
            recommendation_id=_uuid(recommendation_id),
            outcome=body["outcome"],
            payload=body.get("payload"),
            reason_code=body.get("reason_code", ""),
            comment=body.get("comment", ""),
        )
        return _item(request, rec)


class RecommendationEscalate(ReviewerAPIView):
    @extend_schema(
        operation_id="recommendations_escalate",
        request={"application/json": _ESCALATE_BODY},
        responses={200: _ITEM, **problems(400, 403, 404, 409)},
        tags=["review"],
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        body = self.body(request, _ESCALATE_VALIDATOR)
        rec = review.recommendation_escalate(
            user=_person(request),
            recommendation_id=_uuid(recommendation_id),
            comment=body.get("comment", ""),
        )
        return _item(request, rec)


def _item(request: Request, rec: Recommendation) -> Response:
    person = _person(request)
    return Response(recommendation_repr(rec, blind=proposal_hidden(rec, person), viewer=person))


def _person(request: Request) -> User:
    return cast(User, request.user)  # IsPerson let only a signed-in person through


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No recommendation with this id.") from None
