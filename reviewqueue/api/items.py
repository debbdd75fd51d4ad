"""The items list API: `GET /api/v1/queues/{slug}/items` (members of the queue, admins and
auditors). Parsing and reading live in selectors/items.py; this view answers."""

from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from reviewqueue import contracts
from reviewqueue.api.review import ReviewerAPIView
from reviewqueue.api.schema import problems
from reviewqueue.models import User
from reviewqueue.representations import recommendation_repr
from reviewqueue.selectors.autonomy import queue_for_reader
from reviewqueue.selectors.items import (
    MAX_LIMIT,
    ROUTES,
    SORTS,
    STATUSES,
    items_page,
    parse_items_request,
)

ITEMS: dict[str, Any] = {
    "type": "object",
    "required": ["results", "next"],
    "properties": {
        "results": {"type": "array", "items": contracts.RECOMMENDATION},
        "next": {
            "type": ["string", "null"],
            "format": "uri",
            "description": "The next page (the same parameters and a cursor), or null.",
        },
    },
}

_DESCRIPTION = f"""The queue's items, one page at a time, in the order of `sort` (default
`priority`: highest priority first, then oldest first). Members of the queue, admins and
auditors; anyone else gets `404`, the same as for a queue that does not exist.

Filters combine (AND); `status` is repeatable (`?status=pending&status=escalated`, or
comma-separated) and matches any of them. `q` searches the external id, the rationale and
the payload's values (case-insensitive, anywhere in the text); a `q` of one or two
characters matches the start of the external id only. `overdue=true`: open items past their
`due_at`. `assigned_to`: a username, or `me`.

Pages: `limit` items (default 50, at most {MAX_LIMIT}) and `next`, the URL of the next page
(`null` on the last). Follow `next` unchanged: its `cursor` is signed and belongs to its sort;
items that arrive meanwhile are never repeated.

Blind (shadow) items never carry the AI's proposal, confidence, risk score or rationale to
someone who may not see them (reviewers). While the queue holds such items, such a reader may
not filter or sort by them: `risk_min`, `risk_max`, `confidence_min`, `confidence_max`, a `q`
of three or more characters and `sort=risk_score|-risk_score` are then a `400` naming each,
unless `route` keeps to another route than `shadow`.

Bad input is a `400` whose `errors` object names each parameter at fault: an unknown
`status`, `route` or `sort`, `limit` outside 1 to {MAX_LIMIT}, a bound that is not a number
from 0 to 1, `risk_min` above `risk_max` (or `confidence_min` above `confidence_max`), an
unknown `assigned_to` user, `overdue` other than true or false, a cursor this API did not
give for this sort."""

_RANGE = "A number from 0 to 1."
_PARAMETERS = [
    OpenApiParameter("status", str, many=True, enum=list(STATUSES), description="Repeatable"),
    OpenApiParameter("route", str, enum=list(ROUTES)),
    OpenApiParameter("q", str, description="Text search (external id, rationale, payload)"),
    OpenApiParameter("risk_min", float, description=_RANGE),
    OpenApiParameter("risk_max", float, description=_RANGE),
    OpenApiParameter("confidence_min", float, description=_RANGE),
    OpenApiParameter("confidence_max", float, description=_RANGE),
    OpenApiParameter("model_version", str),
    OpenApiParameter("prompt_version", str),
    OpenApiParameter("overdue", bool, description="true: open items past their due_at"),
    OpenApiParameter("assigned_to", str, description="A username, or `me`"),
    OpenApiParameter("sort", str, enum=list(SORTS), description="Default `priority`"),
    OpenApiParameter("limit", int, description=f"1 to {MAX_LIMIT}, default 50"),
    OpenApiParameter("cursor", str, description="From `next`; opaque"),
]


class QueueItems(ReviewerAPIView):
    @extend_schema(
        operation_id="queues_items",
        description=_DESCRIPTION,
        parameters=_PARAMETERS,
        responses={200: OpenApiResponse(ITEMS), **problems(400, 404)},
        tags=["review"],
    )
    def get(self, request: Request, slug: str) -> Response:
        user = cast(User, request.user)
        queue = queue_for_reader(user=user, slug=slug)
        items = parse_items_request(user=user, queue=queue, params=request.query_params)
        page = items_page(queue=queue, request=items)
        next_url = None
        if page.next_cursor is not None:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        results = [recommendation_repr(rec, viewer=user) for rec in page.items]
        return Response({"results": results, "next": next_url})
