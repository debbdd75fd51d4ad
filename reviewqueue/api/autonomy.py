"""Staged-autonomy API for people: QA verdicts on sampled auto-executed items, and an
admin moving a queue between stages."""

from typing import Any

from drf_spectacular.utils import extend_schema
from jsonschema import Draft202012Validator
from rest_framework.request import Request
from rest_framework.response import Response

from reviewqueue.api.review import ReviewerAPIView, _person, _uuid
from reviewqueue.api.schema import problems
from reviewqueue.models import QaReview, StageChange
from reviewqueue.representations import iso
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
_QA_VALIDATOR = Draft202012Validator(_QA_BODY)
_STAGE_VALIDATOR = Draft202012Validator(_STAGE_BODY)


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
