"""The trend: approval, modification and rejection rates over time, exactly as
../shared/docs/product.md defines them ("Metrics (exact definitions)"), for the API, the
reports page and its CSV.

- Only human decisions count (Decision.kind == "human"): policy (auto) approvals and
  source-reported shadow outcomes do not, and expired items have no decision at all.
- A bucket is a calendar day, week (Monday to Sunday) or month in the requested time zone,
  from local midnight to local midnight, so a day across a DST change is 23 or 25 hours.
  Decisions fall in a bucket by decided_at; the first and last buckets count only decisions
  inside the requested range [from, to).
- Rates are rounded to 4 decimals and are null, never 0, for a bucket without decisions.
  Durations are seconds; medians and p90 interpolate linearly between the two nearest
  values (PostgreSQL's percentile_cont), rounded to the millisecond.

Speed: a closed bucket (ended more than CLOSED_AFTER ago) never changes, because decisions
are immutable and written with decided_at = the moment of the decision. Its numbers are kept
in MetricsBucket under a signature of the filters, so a year of history is read from the
decisions once; later requests read ~365 small rows and compute only the open buckets.
"""

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import Forbidden, NotFound, ValidationFailed
from reviewqueue.models import ActionType, Decision, Membership, MetricsBucket, Queue, Source, User
from reviewqueue.states import DecisionKind, Route

BUCKETS = ("day", "week", "month")
MAX_BUCKETS = 1000
# A bucket that ended longer ago than this is closed: no decision can still land in it (a
# decision's transaction commits within moments of its decided_at).
CLOSED_AFTER = timedelta(minutes=5)
# How far back buckets are remembered: longer than metrics_warm's year and the reports'
# longest default view (12 months), so what people open is remembered; older buckets are
# counted on each request. With memoisable(), this bounds the memo by the cuts that exist.
MEMO_SPAN = timedelta(days=800)
# Part of every memo signature: change it when a definition changes and old memos are ignored.
DEFINITIONS_VERSION = "trend-v1"
DEFAULT_SPAN = {"day": 30, "week": 7 * 12, "month": 365}
_EARLIEST = date(1970, 1, 1)
_LATEST = date(9999, 1, 1)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- Parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendRequest:
    """A trend request's parameters, checked. `end` is exclusive: from=2026-10-01 and
    to=2026-11-01 is October."""

    start: date
    end: date
    bucket: str = "day"
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    queue: str | None = None
    action_type: str | None = None
    source: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    reviewer: str | None = None

    def query(self) -> dict[str, str]:
        """The request as query parameters (for links: CSV, the API)."""
        out = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "bucket": self.bucket,
            "tz": self.tz.key,
        }
        for name in (
            "queue",
            "action_type",
            "source",
            "model_name",
            "model_version",
            "prompt_version",
            "reviewer",
        ):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


def _text(params: Mapping[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    value = str(value)
    if len(value) > 200:
        errors[name] = "Must be at most 200 characters."
        return None
    return value


def date_param(params: Mapping[str, Any], name: str, errors: dict[str, str]) -> date | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not _DATE.match(raw):
        errors[name] = "Must be a date as YYYY-MM-DD."
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Must be a date as YYYY-MM-DD."
        return None
    if not _EARLIEST <= value <= _LATEST:
        errors[name] = f"Must be between {_EARLIEST} and {_LATEST}."
        return None
    return value


def parse_trend_request(params: Mapping[str, Any], *, now: datetime | None = None) -> TrendRequest:
    """Check the query parameters; every problem is reported at once, keyed by parameter.
    Without from/to the range is the last 30 days (12 weeks, 12 months) up to today."""
    errors: dict[str, str] = {}
    bucket = str(params.get("bucket") or "day")
    if bucket not in BUCKETS:
        errors["bucket"] = "Must be day, week or month."
        bucket = "day"
    tz_name = str(params.get("tz") or "UTC")
    tz = ZoneInfo("UTC")
    try:
        if len(tz_name) > 64 or tz_name.startswith(("/", ".")) or ".." in tz_name:
            raise ValueError(tz_name)
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors["tz"] = "Must be an IANA time zone name, e.g. Europe/Amsterdam."
    start, end = date_param(params, "from", errors), date_param(params, "to", errors)
    texts = {
        name: _text(params, name, errors)
        for name in (
            "queue",
            "action_type",
            "source",
            "model_name",
            "model_version",
            "prompt_version",
            "reviewer",
        )
    }
    if "from" not in errors and "to" not in errors:
        today = (now or timezone.now()).astimezone(tz).date()
        span = timedelta(days=DEFAULT_SPAN[bucket])
        if end is None:
            end = today + timedelta(days=1) if start is None or start <= today else start + span
        if start is None:
            start = end - span
        if start >= end:
            errors["to"] = "Must be after `from` (`to` is exclusive)."
        elif bucket_count(start, end, bucket) > MAX_BUCKETS:
            errors["to"] = f"At most {MAX_BUCKETS} {bucket} buckets per request."
    if errors:
        raise ValidationFailed("The trend parameters are not valid.", errors=errors)
    assert start is not None and end is not None
    return TrendRequest(start=start, end=end, bucket=bucket, tz=tz, **texts)


# --- Buckets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    start: datetime  # the period's local start, as a UTC instant: the bucket's label
    lo: datetime  # what it counts: decided_at in [lo, hi), clipped to the requested range
    hi: datetime


def _period_start(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next_period(day: date, bucket: str) -> date:
    if bucket == "week":
        return day + timedelta(days=7)
    if bucket == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def bucket_count(start: date, end: date, bucket: str) -> int:
    first = _period_start(start, bucket)
    if bucket == "month":
        return (end.year - first.year) * 12 + end.month - first.month + (1 if end.day > 1 else 0)
    days = (end - first).days
    return math.ceil(days / 7) if bucket == "week" else days


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`, in UTC. Where midnight does not exist (a DST gap
    at 00:00) that is the moment of the change, as in PostgreSQL's date_trunc."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def buckets_for(request: TrendRequest) -> list[Bucket]:
    """One bucket per period that overlaps [start, end), empty ones included."""
    range_lo, range_hi = (
        local_midnight(request.start, request.tz),
        local_midnight(request.end, request.tz),
    )
    out = []
    day = _period_start(request.start, request.bucket)
    while day < request.end:
        following = _next_period(day, request.bucket)
        label = local_midnight(day, request.tz)
        hi = min(local_midnight(following, request.tz), range_hi)
        out.append(Bucket(start=label, lo=max(label, range_lo), hi=hi))
        day = following
    return out


# --- Filters and who may see what ---------------------------------------------------------------


@dataclass(frozen=True)
class TrendFilters:
    """Which human decisions count: resolved ids, after the permission check."""

    queue_ids: tuple[int, ...]
    action_type_id: int | None = None
    source_id: int | None = None
    model_name: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    reviewer_id: int | None = None
    # A reviewer's own numbers leave out blind (shadow) decisions: their outcomes, edited
    # fields and agreement would tell whether the answers matched the hidden proposals.
    without_blind: bool = False

    def signature(self) -> str:
        body = {"v": DEFINITIONS_VERSION, **self.__dict__, "queue_ids": sorted(self.queue_ids)}
        if not self.without_blind:
            del body["without_blind"]  # the signatures remembered before the field existed
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def memoisable(self) -> bool:
        """May numbers under these filters be remembered? Only for cuts that exist: the ids
        (queues, action type, source, reviewer) were resolved from rows already, but the
        version filters are free text, so each new value would otherwise start a memo of
        its own (issue 14 #5: a client could grow the memo without bound). A version that
        no decision of these queues carries is counted, never remembered."""
        if not self.queue_ids:
            return False
        texts = {
            name: value
            for name in ("model_name", "model_version", "prompt_version")
            if (value := getattr(self, name)) is not None
        }
        if not texts:
            return True
        return Decision.objects.filter(queue_id__in=self.queue_ids, **texts).exists()

    def without_versions(self) -> "TrendFilters":
        """The same filters for any model or prompt version (to compare versions)."""
        return replace(self, model_name=None, model_version=None, prompt_version=None)

    def decisions(self, kinds: Sequence[str] = (DecisionKind.HUMAN,)) -> QuerySet[Decision]:
        """The decisions these filters select (every time range); human ones unless told."""
        qs = Decision.objects.filter(queue_id__in=self.queue_ids)
        # One kind as `=`, so the planner can use the partial index on human decisions.
        qs = qs.filter(kind=kinds[0]) if len(kinds) == 1 else qs.filter(kind__in=list(kinds))
        if self.action_type_id is not None:
            qs = qs.filter(action_type_id=self.action_type_id)
        if self.source_id is not None:
            qs = qs.filter(source_id=self.source_id)
        if self.model_name is not None:
            qs = qs.filter(model_name=self.model_name)
        if self.model_version is not None:
            qs = qs.filter(model_version=self.model_version)
        if self.prompt_version is not None:
            qs = qs.filter(prompt_version=self.prompt_version)
        if self.reviewer_id is not None:
            qs = qs.filter(reviewer_id=self.reviewer_id)
        if self.without_blind:
            qs = qs.exclude(recommendation__route=Route.SHADOW)
        return qs


@dataclass(frozen=True)
class Scope:
    """What a user may see: admins and auditors every queue and reviewer; anyone else only
    their own decisions in the queues they are a member of."""

    queues: list[Queue]
    reviewer: User | None
    own_numbers_only: bool


def metrics_scope(*, user: User, queue: str | None = None, reviewer: str | None = None) -> Scope:
    """The queues and reviewer a request may see. For admins and auditors, who read every
    queue, unknown names are 400 (keyed by parameter). Anyone else: another reviewer's
    numbers are 403 (whether that person exists or not), and a queue they are not a member
    of is 404, the same answer as a queue that does not exist, so queue names cannot be
    probed (as for items)."""
    found = Queue.objects.filter(slug=queue).first() if queue else None
    if access.reads_every_queue(user):
        if queue and found is None:
            raise ValidationFailed(
                f"No queue '{queue}'.", errors={"queue": f"Unknown queue '{queue}'."}
            )
        person = None
        if reviewer:
            person = User.objects.filter(username=reviewer).first()
            if person is None:
                raise ValidationFailed(
                    f"No reviewer '{reviewer}'.",
                    errors={"reviewer": f"Unknown reviewer '{reviewer}'."},
                )
        queues = [found] if found else list(Queue.objects.order_by("name"))
        return Scope(queues=queues, reviewer=person, own_numbers_only=False)
    if reviewer and reviewer != user.get_username():
        raise Forbidden("You may see your own numbers only.")
    member_of = Queue.objects.filter(
        pk__in=Membership.objects.filter(user=user).values("queue_id")
    ).order_by("name")
    if queue:
        if found is None or not member_of.filter(pk=found.pk).exists():
            raise NotFound(f"No queue '{queue}'.")
        return Scope(queues=[found], reviewer=user, own_numbers_only=True)
    return Scope(queues=list(member_of), reviewer=user, own_numbers_only=True)


def filters_for(request: TrendRequest, scope: Scope) -> TrendFilters:
    """Resolve names to ids; an unknown action type or source is 400."""
    errors: dict[str, str] = {}
    action_type_id = source_id = None
    if request.action_type:
        action_type_id = (
            ActionType.objects.filter(name=request.action_type).values_list("pk", flat=True).first()
        )
        if action_type_id is None:
            errors["action_type"] = f"Unknown action type '{request.action_type}'."
    if request.source:
        source_id = Source.objects.filter(name=request.source).values_list("pk", flat=True).first()
        if source_id is None:
            errors["source"] = f"Unknown source '{request.source}'."
    if errors:
        raise ValidationFailed("Unknown filter value.", errors=errors)
    return TrendFilters(
        queue_ids=tuple(sorted(q.pk for q in scope.queues)),
        action_type_id=action_type_id,
        source_id=source_id,
        model_name=request.model_name,
        model_version=request.model_version,
        prompt_version=request.prompt_version,
        reviewer_id=scope.reviewer.pk if scope.reviewer else None,
        without_blind=scope.own_numbers_only,
    )


# --- Numbers ----------------------------------------------------------------------------------


@dataclass
class BucketStats:
    decisions: int = 0
    approved: int = 0
    modified: int = 0
    rejected: int = 0
    median_seconds_to_decision: float | None = None
    p90_seconds_to_decision: float | None = None
    median_review_seconds: float | None = None
    flagged: int = 0  # decisions on items that had anomaly flags (domain/flags.py)

    def rate(self, count: int) -> float | None:
        return round(count / self.decisions, 4) if self.decisions else None

    @property
    def approval_rate(self) -> float | None:
        return self.rate(self.approved)

    @property
    def modification_rate(self) -> float | None:
        return self.rate(self.modified)

    @property
    def rejection_rate(self) -> float | None:
        return self.rate(self.rejected)

    @property
    def acceptance_rate(self) -> float | None:
        return self.rate(self.approved + self.modified)


@dataclass(frozen=True)
class TrendPoint:
    bucket: Bucket
    stats: BucketStats

    def as_json(self) -> dict[str, Any]:
        """One trend bucket as the API shows it; its keys are TREND_FIELDS, in order."""
        s = self.stats
        return {
            "start": iso_z(self.bucket.start),
            "decisions": s.decisions,
            "approved": s.approved,
            "modified": s.modified,
            "rejected": s.rejected,
            "approval_rate": s.approval_rate,
            "modification_rate": s.modification_rate,
            "rejection_rate": s.rejection_rate,
            "acceptance_rate": s.acceptance_rate,
            "median_seconds_to_decision": _seconds(s.median_seconds_to_decision),
            "p90_seconds_to_decision": _seconds(s.p90_seconds_to_decision),
            "median_review_seconds": _seconds(s.median_review_seconds),
            "flagged": s.flagged,
        }


# The fields of a trend bucket, in as_json's order: the API schema and the CSV header.
TREND_FIELDS = (
    "start",
    "decisions",
    "approved",
    "modified",
    "rejected",
    "approval_rate",
    "modification_rate",
    "rejection_rate",
    "acceptance_rate",
    "median_seconds_to_decision",
    "p90_seconds_to_decision",
    "median_review_seconds",
    "flagged",
)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


_ROW_FIELDS = ("decided_at", "created_at", "claimed_at", "outcome", "flagged")

# One pass over the run's decisions: width_bucket places each decision between the run's
# boundaries (exactly the Python buckets, whatever the time zone), then counts and
# percentiles per bucket. date_part('epoch', interval) is the exact duration as float8.
_TREND_SQL = """
SELECT width_bucket(d.decided_at, %s::timestamptz[]) AS b,
       count(*),
       count(*) FILTER (WHERE d.outcome = 'approve'),
       count(*) FILTER (WHERE d.outcome = 'modify'),
       count(*) FILTER (WHERE d.outcome = 'reject'),
       percentile_cont(ARRAY[0.5, 0.9]::float8[])
           WITHIN GROUP (ORDER BY date_part('epoch', d.decided_at - d.created_at)),
       percentile_cont(0.5)
           WITHIN GROUP (ORDER BY date_part('epoch', d.decided_at - d.claimed_at)),
       count(*) FILTER (WHERE d.flagged)
FROM ({inner}) AS d
GROUP BY 1
"""


def _runs(buckets: Sequence[Bucket]) -> list[list[Bucket]]:
    """Adjacent buckets grouped together: each run is one range scan."""
    runs: list[list[Bucket]] = []
    for b in buckets:
        if runs and runs[-1][-1].hi == b.lo:
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs


def _compute(filters: TrendFilters, buckets: Sequence[Bucket]) -> dict[Bucket, BucketStats]:
    """The numbers of `buckets`, from the decisions."""
    out = {b: BucketStats() for b in buckets}
    if not filters.queue_ids:
        return out
    for run in _runs(buckets):
        qs = filters.decisions().filter(decided_at__gte=run[0].lo, decided_at__lt=run[-1].hi)
        bounds = [b.lo for b in run] + [run[-1].hi]
        inner, params = qs.values(*_ROW_FIELDS).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(_TREND_SQL.format(inner=inner), [bounds, *params])
            for (
                b,
                n,
                approved,
                modified,
                rejected,
                to_decision,
                review,
                flagged,
            ) in cursor.fetchall():
                out[run[b - 1]] = BucketStats(
                    decisions=n,
                    approved=approved,
                    modified=modified,
                    rejected=rejected,
                    median_seconds_to_decision=to_decision[0] if to_decision else None,
                    p90_seconds_to_decision=to_decision[1] if to_decision else None,
                    median_review_seconds=review,
                    flagged=flagged,
                )
    return out


_MEMO_FIELDS = (
    "lo",
    "hi",
    "decisions",
    "approved",
    "modified",
    "rejected",
    "median_seconds_to_decision",
    "p90_seconds_to_decision",
    "median_review_seconds",
    "flagged",
)


def trend_points(
    *,
    filters: TrendFilters,
    buckets: Sequence[Bucket],
    now: datetime | None = None,
    memo: bool = True,
) -> list[TrendPoint]:
    """The numbers of every bucket: closed ones from the memo when there, the rest from the
    decisions (and closed ones then remembered). memo=False reads only the decisions.

    What is remembered is bounded: only cuts that exist (TrendFilters.memoisable) and only
    buckets that start within MEMO_SPAN of now, so asking for versions nobody used, or
    for the years 1900 to 2000, adds no rows (they are counted, one query per run of
    buckets). metrics_warm drops rows not computed for MEMO_KEEP_DAYS."""
    now = now or timezone.now()
    closed_before = now - CLOSED_AFTER
    found: dict[Bucket, BucketStats] = {}
    signature = filters.signature()
    closed = [b for b in buckets if b.hi <= closed_before]
    memo = memo and bool(closed) and filters.memoisable()
    if memo:
        by_range = {
            (row[0], row[1]): BucketStats(*row[2:])
            for row in MetricsBucket.objects.filter(
                signature=signature, lo__gte=closed[0].lo, lo__lt=closed[-1].hi
            ).values_list(*_MEMO_FIELDS)
        }
        for b in closed:
            hit = by_range.get((b.lo, b.hi))
            if hit is not None:
                found[b] = hit
    missing = [b for b in buckets if b not in found]
    if missing:
        computed = _compute(filters, missing)
        found.update(computed)
        if memo:
            since = now - MEMO_SPAN
            _remember(
                signature,
                [(b, s) for b, s in computed.items() if b.hi <= closed_before and b.lo >= since],
            )
    return [TrendPoint(bucket=b, stats=found[b]) for b in buckets]


def _remember(signature: str, computed: list[tuple[Bucket, BucketStats]]) -> None:
    if not computed:
        return
    now = timezone.now()
    MetricsBucket.objects.bulk_create(
        [
            MetricsBucket(
                signature=signature,
                lo=b.lo,
                hi=b.hi,
                decisions=s.decisions,
                approved=s.approved,
                modified=s.modified,
                rejected=s.rejected,
                median_seconds_to_decision=s.median_seconds_to_decision,
                p90_seconds_to_decision=s.p90_seconds_to_decision,
                median_review_seconds=s.median_review_seconds,
                flagged=s.flagged,
                computed_at=now,
            )
            for b, s in computed
        ],
        ignore_conflicts=True,  # a concurrent request remembered the same bucket
        batch_size=1000,
    )


def trend_for(
    *, user: User, request: TrendRequest, now: datetime | None = None
) -> list[TrendPoint]:
    """The trend a user asked for, within what they may see."""
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    return trend_points(filters=filters_for(request, scope), buckets=buckets_for(request), now=now)


def total_of(points: Sequence[TrendPoint]) -> BucketStats:
    """The counts of the whole range (percentiles do not add up: left None)."""
    total = BucketStats()
    for p in points:
        total.decisions += p.stats.decisions
        total.approved += p.stats.approved
        total.modified += p.stats.modified
        total.rejected += p.stats.rejected
        total.flagged += p.stats.flagged
    return total
