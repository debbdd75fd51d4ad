"""The items list of a queue (`GET /api/v1/queues/{slug}/items`, `/queues/<slug>/items/`):
its parameters, parsed with every problem named at once, and one page of items read by
keyset.

Every sort is one direction over a tuple of keys ending in the id (`priority` is
`(-priority, created_at, id)` ascending; `due_at` puts items without a due time last), so the
next page starts after the last row with one row comparison, which the sort's index
(models/recommendations.py, `rec_list_*`) starts from: no page costs more than the first,
and items that arrive between pages never repeat a row. The cursor is the last row's keys,
signed (django.core.signing, salted) with the sort it belongs to: a forged or edited cursor,
or one from another sort, is a 400.

Blind review: a reviewer never learns a blind (shadow) item's proposal, confidence, risk or
rationale here either (`representations.recommendation_repr`), and may not filter or sort by
them while the list could hold such items (`access.proposal_filters_refused`): that would
narrow the list by what is hidden. Those parameters are then a 400 naming each, never a
quietly narrowed list.
"""

import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.db.models import BooleanField, F, Func, OrderBy, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone

from reviewqueue import access
from reviewqueue.domain.bulk import Refusal, bulk_refusal
from reviewqueue.exceptions import ValidationFailed
from reviewqueue.models import Queue, Recommendation, User
from reviewqueue.models.recommendations import DUE_OR_NEVER, NEG_PRIORITY_SQL, SEARCH_TEXT
from reviewqueue.selectors.recommendations import shown_fields
from reviewqueue.states import OPEN_STATUSES, Route, Status

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# `q` shorter than a trigram: a prefix of the external id (the trigram index needs 3).
SHORT_Q = 2
MAX_Q = 200
_T = '"reviewqueue_recommendation"'
_CURSOR_SALT = "reviewqueue.items.cursor"
NEVER = "infinity"  # the due key of an item without a due time


@dataclass(frozen=True)
class Sort:
    """Keys (SQL over the recommendation table, the ORM expression of the same, and the
    value of a row) and one direction."""

    sql: tuple[str, ...]
    order: tuple[Any, ...]
    values: Callable[[Recommendation], list[Any]]
    descending: bool = False
    hidden: bool = False  # by a field blind review hides


def _due_key(rec: Recommendation) -> Any:
    return rec.due_at if rec.due_at is not None else NEVER


SORTS: dict[str, Sort] = {
    "priority": Sort(
        sql=(f"({_T}.priority * -1)", f"{_T}.created_at", f"{_T}.id"),
        order=(NEG_PRIORITY_SQL, "created_at", "id"),
        values=lambda r: [-r.priority, r.created_at, r.id],
    ),
    "-created_at": Sort(
        sql=(f"{_T}.created_at", f"{_T}.id"),
        order=("created_at", "id"),
        values=lambda r: [r.created_at, r.id],
        descending=True,
    ),
    "created_at": Sort(
        sql=(f"{_T}.created_at", f"{_T}.id"),
        order=("created_at", "id"),
        values=lambda r: [r.created_at, r.id],
    ),
    "risk_score": Sort(
        sql=(f"{_T}.risk_score", f"{_T}.id"),
        order=("risk_score", "id"),
        values=lambda r: [r.risk_score, r.id],
        hidden=True,
    ),
    "-risk_score": Sort(
        sql=(f"{_T}.risk_score", f"{_T}.id"),
        order=("risk_score", "id"),
        values=lambda r: [r.risk_score, r.id],
        descending=True,
        hidden=True,
    ),
    "due_at": Sort(
        sql=(f"COALESCE({_T}.due_at, 'infinity'::timestamptz)", f"{_T}.id"),
        order=(DUE_OR_NEVER, "id"),
        values=lambda r: [_due_key(r), r.id],
    ),
}
DEFAULT_SORT = "priority"
STATUSES = tuple(s.value for s in Status)
ROUTES = tuple(r.value for r in Route)
# Range parameters: (the model field, what the blind review hides).
RANGES = {
    "risk_min": "risk_score",
    "risk_max": "risk_score",
    "confidence_min": "confidence",
    "confidence_max": "confidence",
}
# Every parameter the list reads, in the order of a normalised query string.
PARAMETERS = (
    "status",
    "route",
    "q",
    *RANGES,
    "model_version",
    "prompt_version",
    "overdue",
    "assigned_to",
    "sort",
)


@dataclass(frozen=True)
class ItemsRequest:
    statuses: tuple[str, ...] = ()
    route: str = ""
    q: str = ""
    ranges: dict[str, float] = field(default_factory=dict)  # risk_min ... confidence_max
    model_version: str = ""
    prompt_version: str = ""
    overdue: bool = False
    assigned_to: str = ""  # as asked ("me" or a username)
    assigned_to_id: int | None = None
    sort: str = DEFAULT_SORT
    limit: int = DEFAULT_LIMIT
    after: tuple[Any, ...] | None = None  # the cursor's keys

    def params(self) -> list[tuple[str, str]]:
        """The filters and sort as query parameters (no cursor, no limit), defaults left out."""
        pairs = [("status", s) for s in self.statuses]
        pairs += [("route", self.route), ("q", self.q)]
        pairs += [(name, f"{value:g}") for name, value in self.ranges.items()]
        pairs += [("model_version", self.model_version), ("prompt_version", self.prompt_version)]
        pairs += [("overdue", "true" if self.overdue else ""), ("assigned_to", self.assigned_to)]
        pairs += [("sort", "" if self.sort == DEFAULT_SORT else self.sort)]
        return [(k, v) for k, v in pairs if v]

    def query_string(self) -> str:
        return urlencode(self.params())

    @property
    def filtered(self) -> bool:
        return any(k != "sort" for k, _ in self.params())


@dataclass(frozen=True)
class ItemsPage:
    items: list[Recommendation]
    next_cursor: str | None


def _one(params: Mapping[str, Any], name: str) -> str:
    getlist = getattr(params, "getlist", None)
    values = getlist(name) if getlist else [params[name]] if name in params else []
    return str(values[-1]).strip() if values else ""


def _all(params: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(params, "getlist", None)
    values = getlist(name) if getlist else [params[name]] if name in params else []
    # Repeatable (?status=a&status=b); a comma-separated list is read the same way.
    return [v.strip() for value in values for v in str(value).split(",") if v.strip()]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_items_request(*, user: User, queue: Queue, params: Mapping[str, Any]) -> ItemsRequest:
    """The list's parameters, or ValidationFailed (400) with an `errors` entry per parameter
    at fault: an unknown status, route or sort, a limit outside 1 to 200, a range bound that is
    not a number in [0, 1] or a minimum above its maximum, an unknown user, a cursor this API
    did not make for this sort, and for a reader who may not see blind items' proposals, any
    parameter that reads what they hide."""
    errors: dict[str, str] = {}
    statuses = tuple(dict.fromkeys(_all(params, "status")))
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        errors["status"] = f"Unknown status {', '.join(unknown)}; one of {', '.join(STATUSES)}."
    route = _one(params, "route")
    if route and route not in ROUTES:
        errors["route"] = f"Unknown route {route}; one of {', '.join(ROUTES)}."
    sort = _one(params, "sort") or DEFAULT_SORT
    if sort not in SORTS:
        errors["sort"] = f"Unknown sort {sort}; one of {', '.join(SORTS)}."
    q = _one(params, "q")
    if len(q) > MAX_Q:
        errors["q"] = f"At most {MAX_Q} characters."
    ranges = _ranges(params, errors)
    overdue = _one(params, "overdue")
    if overdue not in ("", "true", "false"):
        errors["overdue"] = "true or false."
    assigned_to, assigned_to_id = _one(params, "assigned_to"), None
    if assigned_to == "me":
        assigned_to_id = user.pk
    elif assigned_to:
        assigned_to_id = (
            User.objects.filter(username=assigned_to).values_list("pk", flat=True).first()
        )
        if assigned_to_id is None:
            errors["assigned_to"] = f"No user {assigned_to}."
    limit = DEFAULT_LIMIT
    if (text := _one(params, "limit")) != "":
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            errors["limit"] = f"A whole number from 1 to {MAX_LIMIT}."
        else:
            limit = int(text)
    after = None
    if (cursor := _one(params, "cursor")) and "sort" not in errors:
        after = _cursor_keys(cursor, sort)
        if after is None:
            errors["cursor"] = "Not a cursor of this list and sort; start again without it."
    _refuse_hidden(user, queue, route, q, sort, ranges, errors)
    if errors:
        raise ValidationFailed("The list's parameters are not valid.", errors=errors)
    return ItemsRequest(
        statuses=statuses,
        route=route,
        q=q,
        ranges=ranges,
        model_version=_one(params, "model_version")[:200],
        prompt_version=_one(params, "prompt_version")[:200],
        overdue=overdue == "true",
        assigned_to=assigned_to,
        assigned_to_id=assigned_to_id,
        sort=sort,
        limit=limit,
        after=after,
    )


def _ranges(params: Mapping[str, Any], errors: dict[str, str]) -> dict[str, float]:
    """The risk and confidence bounds: numbers from 0 to 1, each minimum at most its maximum."""
    ranges: dict[str, float] = {}
    for name in RANGES:
        text = _one(params, name)
        if not text:
            continue
        value = _number(text)
        if value is None or not 0 <= value <= 1:
            errors[name] = "A number from 0 to 1."
        else:
            ranges[name] = value
    for low, high in (("risk_min", "risk_max"), ("confidence_min", "confidence_max")):
        if low in ranges and high in ranges and ranges[low] > ranges[high]:
            errors[low] = f"{low} is above {high}."
    return ranges


def _refuse_hidden(
    user: User,
    queue: Queue,
    route: str,
    q: str,
    sort: str,
    ranges: dict[str, float],
    errors: dict[str, str],
) -> None:
    """A reader who may not see blind items' proposals may not filter or sort by what
    they hide (access.proposal_filters_refused): each such parameter gets an error."""
    hidden = [name for name in RANGES if name in ranges]
    if q and len(q) > SHORT_Q:
        hidden.append("q")  # a short q reads the external id only, which is never hidden
    if sort in SORTS and SORTS[sort].hidden:
        hidden.append("sort")
    if hidden and access.proposal_filters_refused(user, queue, route=route or None):
        for name in hidden:
            errors[name] = (
                "This queue holds blind-review items whose risk, confidence, rationale and "
                "payload are hidden from you, so the list cannot be filtered or sorted by them; "
                "add route=review (or another route but shadow) to use it."
            )


def _cursor(sort: str, rec: Recommendation) -> str:
    keys = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, uuid.UUID) else v
        for v in SORTS[sort].values(rec)
    ]
    return signing.dumps({"s": sort, "k": keys}, salt=_CURSOR_SALT, compress=True)


def _cursor_keys(cursor: str, sort: str) -> tuple[Any, ...] | None:
    """The keys a cursor carries, typed, or None if it is not one of ours for `sort`."""
    try:
        data = signing.loads(cursor, salt=_CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("s") != sort or not isinstance(data.get("k"), list):
        return None
    keys = data["k"]
    if len(keys) != len(SORTS[sort].sql):
        return None
    try:
        *values, last = keys
        typed: list[Any] = []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            if isinstance(value, str) and value != NEVER:
                value = datetime.fromisoformat(value)
            typed.append(value)
        return (*typed, uuid.UUID(str(last)))
    except ValueError:
        return None


def _filtered(qs: QuerySet[Recommendation], request: ItemsRequest) -> QuerySet[Recommendation]:
    if request.statuses:
        qs = qs.filter(status__in=request.statuses)
    if request.route:
        qs = qs.filter(route=request.route)
    for name, value in request.ranges.items():
        lookup = "gte" if name.endswith("_min") else "lte"
        qs = qs.filter(**{f"{RANGES[name]}__{lookup}": value})
    if request.model_version:
        qs = qs.filter(model_version=request.model_version)
    if request.prompt_version:
        qs = qs.filter(prompt_version=request.prompt_version)
    if request.overdue:
        qs = qs.filter(due_at__lt=timezone.now(), status__in=[s.value for s in OPEN_STATUSES])
    if request.assigned_to_id is not None:
        qs = qs.filter(assigned_to_id=request.assigned_to_id)
    if request.q:
        qs = qs.filter(_search(request.q))
    return qs


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(q: str) -> Q | Func:
    """`q` anywhere in the search text (the trigram index over the same expression), or for
    one or two characters, which no trigram holds, the start of the external id."""
    if len(q) <= SHORT_Q:
        return Q(external_id__startswith=q)
    return Func(
        SEARCH_TEXT,
        Value("%" + _like(q) + "%"),
        template="(%(expressions)s)",
        arg_joiner=" ILIKE ",
        output_field=BooleanField(),
    )


def items_page(*, queue: Queue, request: ItemsRequest) -> ItemsPage:
    """One page of `queue`'s items (the caller checked that the reader may read the queue and
    parsed the request for them), with the item representation's related rows, in one query."""
    sort = SORTS[request.sort]
    qs = _filtered(
        Recommendation.objects.filter(queue=queue)
        .select_related("action_type", "decision__reviewer", "execution", "assigned_to")
        .only(*shown_fields(queue=False)),
        request,
    )
    if request.after is not None:
        keys = ", ".join(sort.sql)
        marks = ", ".join(["%s"] * len(sort.sql))
        op = "<" if sort.descending else ">"
        # Constant SQL of ours (SORTS); the cursor's values are parameters.
        after = RawSQL(f"({keys}) {op} ({marks})", list(request.after), output_field=BooleanField())  # noqa: S611
        qs = qs.filter(after)
    order = [
        OrderBy(F(k) if isinstance(k, str) else k, descending=sort.descending) for k in sort.order
    ]
    rows = list(qs.order_by(*order)[: request.limit + 1])
    for rec in rows:
        rec.queue = queue  # one queue: not joined per row
    more = len(rows) > request.limit
    rows = rows[: request.limit]
    return ItemsPage(rows, _cursor(request.sort, rows[-1]) if more else None)


def bulk_preview(
    *, user: User, queue: Queue, ids: list[str]
) -> list[tuple[Recommendation | None, Refusal | None]]:
    """For the items page's confirmation: each id's item (None: not of this queue) and why a
    bulk decision would leave it out (domain/bulk.py), without changing anything."""
    senior = access.takes_escalated(access.review_role(user, queue))
    found = {
        str(rec.pk): rec
        for rec in Recommendation.objects.filter(pk__in=ids, queue=queue).select_related(
            "action_type"
        )
    }
    return [(found.get(pk), bulk_refusal(queue, found.get(pk), pk, senior=senior)) for pk in ids]
