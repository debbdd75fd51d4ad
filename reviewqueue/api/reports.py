"""Reports API for people (session or personal token): the trend, the decisions export and
the audit export."""

from collections.abc import Callable, Iterator
from typing import Any, cast

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from reviewqueue.api.review import ReviewerAPIView
from reviewqueue.api.schema import problems
from reviewqueue.models import User
from reviewqueue.reporting.agreement import agreement_report
from reviewqueue.reporting.export import export_lines, parse_export_request
from reviewqueue.reporting.parameters import MAX_BUCKETS, TrendRequest, parse_trend_request
from reviewqueue.reporting.reason_trend import reason_trend_for
from reviewqueue.reporting.trend import TREND_FIELDS, trend_for
from reviewqueue.selectors.audit_export import audit_export_for, audit_export_lines
from reviewqueue.services.report_limits import report_request_counted

_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_SECONDS = {"type": ["number", "null"], "minimum": 0}

TREND: dict[str, Any] = {
    "type": "object",
    "required": ["buckets"],
    "properties": {
        "buckets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": list(TREND_FIELDS),
                "properties": {
                    "start": {"type": "string", "format": "date-time"},
                    "decisions": {"type": "integer", "minimum": 0},
                    "approved": {"type": "integer", "minimum": 0},
                    "modified": {"type": "integer", "minimum": 0},
                    "rejected": {"type": "integer", "minimum": 0},
                    "approval_rate": _RATE,
                    "modification_rate": _RATE,
                    "rejection_rate": _RATE,
                    "acceptance_rate": _RATE,
                    "median_seconds_to_decision": _SECONDS,
                    "p90_seconds_to_decision": _SECONDS,
                    "median_review_seconds": _SECONDS,
                    "flagged": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Decisions on items that had anomaly flags.",
                    },
                },
            },
        }
    },
}

_TREND_DESCRIPTION = f"""Approval, modification and rejection rates over time, over **human decisions
only** (policy auto-approvals and source-reported shadow outcomes are not counted; expired
items have no decision). One bucket per calendar day, week (Monday to Sunday) or month in
`tz` that overlaps the range, empty buckets included; `start` is the period's local midnight
as a UTC instant. Decisions fall in buckets by `decided_at`; the range is **`from` inclusive,
`to` exclusive** (`from=2026-10-01&to=2026-11-01` is October), so a first or last week or
month is counted only inside the range. Without `from`/`to`: the last 30 days (12 weeks, 12
months) up to and including today.

Rates: approval = approved unchanged / decisions, modification = modified / decisions,
rejection = rejected / decisions, acceptance = (approved + modified) / decisions; rounded to
4 decimals and `null` (never 0) when a bucket has no decisions. Time to decision =
`decided_at - created_at`, review time = `decided_at - claimed_at`, in seconds; medians and
p90 interpolate linearly (PostgreSQL `percentile_cont`), rounded to the millisecond.

Admins and auditors see every queue. Anyone else sees only their own decisions in the queues
they are a member of: `reviewer` is set to them, asking for another reviewer is `403`, and
a queue they are not a member of is `404`, the same as a queue that does not exist. Over
the per-person report rate (REVIEWQUEUE_REPORT_RATE, default 120/m): `429` with
`Retry-After`. Invalid
parameters are `400` with an `errors` object keyed by parameter: a malformed date, `from` not
before `to`, an unknown `bucket`, `tz`, `action_type`, `source` or `reviewer` (or, for admins
and auditors, `queue`), or more than {MAX_BUCKETS} buckets."""

_TREND_PARAMETERS = [
    OpenApiParameter("queue", str, description="Queue slug; default: every queue you may see"),
    OpenApiParameter("bucket", str, enum=["day", "week", "month"], description="Default day"),
    OpenApiParameter("from", str, description="First day, YYYY-MM-DD in `tz` (inclusive)"),
    OpenApiParameter("to", str, description="Day after the last, YYYY-MM-DD in `tz` (exclusive)"),
    OpenApiParameter("tz", str, description="IANA time zone of the buckets; default UTC"),
    OpenApiParameter("action_type", str, description="Action type name"),
    OpenApiParameter("source", str, description="Source name"),
    OpenApiParameter("model_name", str),
    OpenApiParameter("model_version", str),
    OpenApiParameter("prompt_version", str),
    OpenApiParameter("reviewer", str, description="Reviewer's username"),
]


def _counted[T](request: Request, compute: Callable[..., T]) -> T:
    """A metrics answer for the person asking, within their report rate (429 beyond it), from
    the trend parameters (400 naming each bad one)."""
    user = cast(User, request.user)
    wait = report_request_counted(user=user)
    if wait is not None:
        raise exceptions.Throttled(wait=wait, detail="Too many report requests.")
    return compute(user=user, request=parse_trend_request(request.query_params))


def _with_request[T](
    compute: Callable[..., T],
) -> Callable[..., tuple[TrendRequest, T]]:
    """`compute`'s answer together with the parsed parameters it answered."""

    def both(*, user: User, request: TrendRequest) -> tuple[TrendRequest, T]:
        return request, compute(user=user, request=request)

    return both


class MetricsTrend(ReviewerAPIView):
    @extend_schema(
        operation_id="metrics_trend",
        description=_TREND_DESCRIPTION,
        parameters=_TREND_PARAMETERS,
        responses={200: OpenApiResponse(TREND), **problems(400, 403, 404, 429)},
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        return Response({"buckets": [p.as_json() for p in _counted(request, trend_for)]})


REASON_TREND: dict[str, Any] = {
    "type": "object",
    "required": ["buckets"],
    "properties": {
        "buckets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "reasons"],
                "properties": {
                    "start": {"type": "string", "format": "date-time"},
                    "reasons": {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 1},
                        "description": "Reason code → modifications and rejections giving "
                        "it, most frequent first; `(none)` for those without a code.",
                    },
                },
            },
        }
    },
}

_REASONS_DESCRIPTION = """How often each reason code was given for **modifying or rejecting**, per
day, week or month: the same human decisions, buckets, range, parameters, scope and errors
as `GET /api/v1/metrics/trend` (and the same codes as the reasons section of `/reports/`).
A bucket without modifications or rejections has an empty `reasons` object."""


class MetricsReasons(ReviewerAPIView):
    @extend_schema(
        operation_id="metrics_reasons",
        description=_REASONS_DESCRIPTION,
        parameters=_TREND_PARAMETERS,
        responses={200: OpenApiResponse(REASON_TREND), **problems(400, 403, 404, 429)},
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        return Response({"buckets": [p.as_json() for p in _counted(request, reason_trend_for)]})


_AGREEMENT_ROW: dict[str, Any] = {
    "type": "object",
    "required": ["queue", "items", "percent_agreement", "kappa", "reason"],
    "properties": {
        "queue": {"type": "string"},
        "reviewer": {"type": "string"},
        "reviewers": {"type": "array", "items": {"type": "string"}},
        "items": {"type": "integer", "minimum": 0, "description": "Pairs of votes compared"},
        "percent_agreement": _RATE,
        "kappa": {"type": ["number", "null"], "minimum": -1, "maximum": 1},
        "reason": {"type": ["string", "null"], "description": "Why a number is null"},
    },
}
AGREEMENT: dict[str, Any] = {
    "type": "object",
    "required": ["from", "to", "queues", "reviewers", "pairs"],
    "properties": {
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date"},
        "queues": {"type": "array", "items": _AGREEMENT_ROW},
        "reviewers": {"type": "array", "items": _AGREEMENT_ROW},
        "pairs": {"type": "array", "items": _AGREEMENT_ROW},
    },
}

_AGREEMENT_DESCRIPTION = """Inter-reviewer agreement on queues with consensus
(`reviewers_per_item` above 1): percent agreement and Cohen's kappa per queue, per reviewer
(against every other reviewer of the same items) and per pair of reviewers, over the votes
cast in the range (`from` inclusive, `to` exclusive, dates in `tz`; default the last 30 days)
on items whose votes are complete (decided, expired or escalated). Two votes agree when they
have the same outcome and, for modify, the same final payload. `items` counts the pairs of
votes compared; with fewer than 5, or when kappa is undefined (everyone always said the same),
the number is `null` and `reason` says why. Admins and auditors see everything; anyone else
only their own line in the queues they are a member of (blind-review items left out)."""


class MetricsAgreement(ReviewerAPIView):
    @extend_schema(
        operation_id="metrics_agreement",
        description=_AGREEMENT_DESCRIPTION,
        parameters=[
            OpenApiParameter("queue", str, description="Queue slug; default every queue"),
            *_TREND_PARAMETERS[2:5],
        ],
        responses={200: OpenApiResponse(AGREEMENT), **problems(400, 403, 404, 429)},
        tags=["reports"],
    )
    def get(self, request: Request) -> Response:
        parsed, table = _counted(request, _with_request(agreement_report))
        return Response(
            {"from": parsed.start.isoformat(), "to": parsed.end.isoformat(), **table.as_json()}
        )


_EXPORT_DESCRIPTION = """Every decision in the range as JSON Lines (`application/x-ndjson`),
streamed: queue by queue, oldest first within a queue (by `decided_at`, then `id`). One line
per decision with `input` (rationale, evidence, metadata, confidence, risk_score), the AI's
`proposal` (action type and original payload), the `final_payload`, `outcome`,
`reason_code`, `comment`, the field-level `diff` and `is_cosmetic`, `model` (name, version),
`prompt_version`, `reviewer`, `kind` (human, policy or external), the times and the ids.
Admins and auditors only. `from` inclusive, `to` exclusive (dates in `tz`, default UTC);
default: the last 30 days."""


class NDJSONRenderer(JSONRenderer):
    """Lets a client ask for `Accept: application/x-ndjson`; the lines themselves are
    streamed by the view, and only an error body is ever rendered here (as JSON)."""

    media_type = "application/x-ndjson"
    format = "jsonl"


_WINDOW_PARAMETERS = [
    OpenApiParameter("from", str, description="YYYY-MM-DD (inclusive)"),
    OpenApiParameter("to", str, description="YYYY-MM-DD (exclusive)"),
    OpenApiParameter("tz", str, description="IANA time zone of the dates; default UTC"),
]
_JSONL_RESPONSES = {
    (200, "application/x-ndjson"): OpenApiResponse(
        {"type": "string"}, description="One JSON object per line"
    ),
    **problems(400, 403),
}


def jsonl_response(lines: Iterator[bytes], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class DecisionsExport(ReviewerAPIView):
    renderer_classes = [JSONRenderer, NDJSONRenderer]

    @extend_schema(
        operation_id="exports_decisions",
        description=_EXPORT_DESCRIPTION,
        parameters=[
            OpenApiParameter("queue", str, description="Queue slug; default every queue"),
            *_WINDOW_PARAMETERS,
            OpenApiParameter("kind", str, enum=["human", "policy", "external"]),
        ],
        responses=_JSONL_RESPONSES,
        tags=["reports"],
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        export = parse_export_request(user=cast(User, request.user), params=request.query_params)
        return jsonl_response(export_lines(export), "decisions.jsonl")


_AUDIT_EXPORT_DESCRIPTION = """The audit trail's events in the range as JSON Lines
(`application/x-ndjson`), streamed chain by chain (a chain is a queue's events; chain 0 holds
events without a queue), in `seq` order within a chain. Each line carries what its hash covers,
so it can be verified outside the system: `id`, `chain`, `seq`, `prev_hash`, `hash`,
`occurred_at` (UTC, microseconds), the actor (`actor_kind`, `actor_user_id`,
`actor_source_id`, `actor_label`), `action`, `recommendation_id`, `queue_id` (and the
`queue` slug), `model_name`, `model_version`, `prompt_version`, `data`, and `data_text`, the
exact JSON text of `data` that was hashed. `hash` = hex SHA-256 of `prev_hash`, then `|`,
then for each of id, occurred_at, actor_kind, actor_user_id, actor_source_id, actor_label,
action, recommendation_id, queue_id, model_name, model_version, prompt_version, data_text:
`<length in characters>:<value>|` (null as empty). Events are selected by `occurred_at` (the
writer's clock): `from` inclusive, `to` exclusive (dates in `tz`, default UTC); default: the
last 30 days. Admins and auditors only."""


class AuditExport(ReviewerAPIView):
    renderer_classes = [JSONRenderer, NDJSONRenderer]

    @extend_schema(
        operation_id="exports_audit",
        description=_AUDIT_EXPORT_DESCRIPTION,
        parameters=[
            OpenApiParameter("queue", str, description="Queue slug; default every chain"),
            *_WINDOW_PARAMETERS,
        ],
        responses=_JSONL_RESPONSES,
        tags=["reports"],
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        export = audit_export_for(user=cast(User, request.user), params=request.query_params)
        return jsonl_response(audit_export_lines(export), "audit.jsonl")
