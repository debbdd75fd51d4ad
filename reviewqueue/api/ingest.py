"""Ingest API for AI systems: one view per operation; each parses, calls one service or
selector, and answers."""

import uuid
from typing import Any, cast

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from jsonschema import Draft202012Validator
from rest_framework import authentication, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reviewqueue import contracts
from reviewqueue.api.auth import (
    ApiKeyAuthentication,
    IsSource,
    PersonalTokenAuthentication,
    SourcePrincipal,
)
from reviewqueue.api.schema import problems
from reviewqueue.api.throttling import ApiKeyRateThrottle
from reviewqueue.exceptions import NotFound, ValidationFailed
from reviewqueue.lib.schema import errors_by_path
from reviewqueue.models import User
from reviewqueue.representations import proposal_hidden, recommendation_repr
from reviewqueue.selectors.recommendations import (
    recommendation_get_for_source,
    recommendation_get_for_user,
    recommendation_list_for_source,
)
from reviewqueue.services.ingest import (
    ItemResult,
    recommendation_ingest,
    recommendation_ingest_batch,
)
from reviewqueue.services.shadow import recommendation_record_outcome


class SourceAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsSource]
    throttle_classes = [ApiKeyRateThrottle]

    @property
    def source(self):  # type: ignore[no-untyped-def]
        return self.request.user.source  # type: ignore[union-attr]


class RecommendationCollection(SourceAPIView):
    @extend_schema(
        operation_id="recommendations_create",
        request={"application/json": contracts.INGEST_ITEM},
        responses={
            201: OpenApiResponse(contracts.RECOMMENDATION, description="Created"),
            200: OpenApiResponse(contracts.RECOMMENDATION, description="Identical replay"),
            **problems(403, 409, 429),
        },
        tags=["ingest"],
    )
    def post(self, request: Request) -> Response:
        rec, created = recommendation_ingest(source=self.source, data=request.data)
        return Response(recommendation_repr(rec), status=201 if created else 200)

    @extend_schema(
        operation_id="recommendations_list",
        parameters=[
            OpenApiParameter("external_id", str, description="Look one item up by its external id"),
            OpenApiParameter("status", str),
            OpenApiParameter("queue", str),
            OpenApiParameter(
                "flagged", str, description="`true`: only items with anomaly flags; `false`: none"
            ),
            OpenApiParameter("cursor", str, description="`next` from the previous page"),
            OpenApiParameter("limit", int, description="1-200, default 50"),
        ],
        responses={200: OpenApiResponse(contracts.RECOMMENDATION_LIST), **problems(400, 429)},
        tags=["ingest"],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        limit_raw = params.get("limit", "50")
        if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 200:
            raise ValidationFailed(
                "Bad limit.", errors={"limit": "Must be an integer from 1 to 200."}
            )
        flagged_raw = params.get("flagged")
        if flagged_raw not in (None, "true", "false"):
            raise ValidationFailed(
                "The flagged filter must be true or false.",
                errors={"flagged": "Must be true or false."},
            )
        rows, next_cursor = recommendation_list_for_source(
            source=self.source,
            external_id=params.get("external_id"),
            status=params.get("status"),
            queue=params.get("queue"),
            flagged=None if flagged_raw is None else flagged_raw == "true",
            cursor=params.get("cursor"),
            limit=int(limit_raw),
        )
        return Response({"results": [recommendation_repr(r) for r in rows], "next": next_cursor})


_BATCH_ENVELOPE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {"items": {"type": "array", "minItems": 1}},
}
_BATCH_VALIDATOR = Draft202012Validator(_BATCH_ENVELOPE)


class RecommendationBatch(SourceAPIView):
    arrays_with_own_limit = ("items",)  # REVIEWQUEUE_MAX_BATCH_ITEMS, checked below

    @property
    def max_body_bytes(self) -> int:
        return settings.REVIEWQUEUE_MAX_BATCH_BODY_BYTES

    @extend_schema(
        operation_id="recommendations_batch_create",
        request={"application/json": contracts.INGEST_BATCH},
        responses={200: OpenApiResponse(contracts.BATCH_RESULT), **problems(429)},
        tags=["ingest"],
    )
    def post(self, request: Request) -> Response:
        errors = errors_by_path(_BATCH_VALIDATOR, request.data)
        if errors:
            raise ValidationFailed("The batch is not valid.", errors=errors)
        data = request.data
        assert isinstance(data, dict)  # the envelope schema checked it
        items = data["items"]
        if len(items) > settings.REVIEWQUEUE_MAX_BATCH_ITEMS:
            raise ValidationFailed(
                "Too many items.",
                errors={
                    "items": f"At most {settings.REVIEWQUEUE_MAX_BATCH_ITEMS} items per batch."
                },
            )
        results = recommendation_ingest_batch(source=self.source, items=items)
        return Response({"results": [_batch_item(r) for r in results]})


def _batch_item(result: ItemResult) -> dict[str, Any]:
    item: dict[str, Any] = {"index": result.index, "status": result.status}
    if result.recommendation_id:
        item["id"] = result.recommendation_id
    if result.route:
        item["route"] = result.route
    if result.detail:
        item["detail"] = result.detail
    if result.errors:
        item["errors"] = result.errors
    return item


class SourceOrPerson(permissions.BasePermission):
    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        return bool(user is not None and getattr(user, "is_authenticated", False))


class RecommendationDetail(APIView):
    """A source reads its own items; a person reads items of their queues."""

    authentication_classes = [
        ApiKeyAuthentication,
        PersonalTokenAuthentication,
        authentication.SessionAuthentication,
    ]
    permission_classes = [SourceOrPerson]
    throttle_classes = [ApiKeyRateThrottle]  # sources poll here; people are not counted

    @extend_schema(
        operation_id="recommendations_retrieve",
        responses={200: OpenApiResponse(contracts.RECOMMENDATION), **problems(404, 429)},
        tags=["ingest"],
    )
    def get(self, request: Request, recommendation_id: str) -> Response:
        if isinstance(request.user, SourcePrincipal):
            rec = recommendation_get_for_source(
                source=request.user.source, recommendation_id=recommendation_id
            )
        else:
            user = cast(User, request.user)
            rec = recommendation_get_for_user(user=user, recommendation_id=recommendation_id)
            return Response(recommendation_repr(rec, blind=proposal_hidden(rec, user), viewer=user))
        return Response(recommendation_repr(rec))


_OUTCOME_VALIDATOR = Draft202012Validator(contracts.OUTCOME_BODY)


class RecommendationHumanOutcome(SourceAPIView):
    """Shadow stage: what people actually decided on a shadow item."""

    @extend_schema(
        operation_id="recommendations_human_outcome",
        request={"application/json": contracts.OUTCOME_BODY},
        responses={
            200: OpenApiResponse(contracts.RECOMMENDATION),
            **problems(404, 409, 429),
        },
        tags=["ingest"],
    )
    def post(self, request: Request, recommendation_id: str) -> Response:
        errors = errors_by_path(_OUTCOME_VALIDATOR, request.data)
        if errors:
            raise ValidationFailed("The outcome is not valid.", errors=errors)
        data = request.data
        assert isinstance(data, dict)  # the schema checked it
        rec = recommendation_record_outcome(
            source=self.source,
            recommendation_id=_uuid_or_404(recommendation_id),
            outcome=data["outcome"],
            payload=data.get("payload"),
            reason_code=data.get("reason_code", ""),
            comment=data.get("comment", ""),
        )
        return Response(recommendation_repr(rec))


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No recommendation with this id.") from None
