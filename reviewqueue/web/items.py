"""The items list page, `/queues/<slug>/items/`: a GET form of filters over a sortable table.
htmx swaps the table region (`#items`) on every change; without JavaScript the form reloads
the page. The page remembers each person's last filters per queue (opened without any
parameter, it shows them again) and keeps up to ten named views. Parsing and reading are
selectors/items.py, the same as the API's."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from reviewqueue import access
from reviewqueue.domain.reasons import reasons
from reviewqueue.exceptions import Forbidden, ValidationFailed
from reviewqueue.models import Queue, Recommendation, User
from reviewqueue.selectors.autonomy import queue_for_reader
from reviewqueue.selectors.items import (
    DEFAULT_SORT,
    RANGES,
    ROUTES,
    SORTS,
    STATUSES,
    ItemsRequest,
    bulk_preview,
    items_page,
    parse_items_request,
)
from reviewqueue.selectors.saved_views import saved_views_for
from reviewqueue.services.bulk import bulk_request_check, recommendations_bulk_decide
from reviewqueue.services.saved_views import (
    last_filters_remember,
    saved_view_delete,
    saved_view_save,
)
from reviewqueue.states import OPEN_STATUSES, Status
from reviewqueue.web.errors import errors_back_to
from reviewqueue.web.pages import HtmxHttpRequest, current_user, render_page

PAGE = "reviewqueue/queues/items.html"
BULK_PAGE = "reviewqueue/queues/items_bulk.html"
# Headers that sort: the column, its sort, and the sort a second click asks for.
HEADERS = {
    "priority": ("priority", "priority"),
    "created": ("-created_at", "created_at"),
    "risk": ("-risk_score", "risk_score"),
    "due": ("due_at", "due_at"),
}
OPEN = {s.value for s in OPEN_STATUSES}
WAITING = {Status.PENDING.value, Status.ESCALATED.value, Status.SHADOW.value}


def _form(params: QueryDict) -> dict[str, Any]:
    """What the filter form shows: the values as asked, even invalid ones."""
    form: dict[str, Any] = {
        name: str(params.get(name, ""))[:200]
        for name in ("route", "q", *RANGES, "model_version", "prompt_version", "assigned_to")
    }
    form["statuses"] = [s for v in params.getlist("status") for s in v.split(",")]
    form["overdue"] = params.get("overdue") == "true"
    form["sort"] = params.get("sort") or DEFAULT_SORT
    return form


def _rows(user: User, recs: list[Recommendation]) -> list[dict[str, Any]]:
    now = timezone.now()
    return [
        {
            "rec": rec,
            "blind": access.proposal_hidden(user, rec),
            "mine": rec.assigned_to_id is not None and rec.assigned_to_id == user.pk,
            "overdue": rec.due_at is not None and rec.due_at < now and rec.status in OPEN,
            "waiting": rec.status in WAITING,
        }
        for rec in recs
    ]


def _headers(request: ItemsRequest | None) -> dict[str, dict[str, str]]:
    """Each sortable column's link (the filters, another sort) and its aria-sort."""
    params = request.params() if request else []
    base = [(k, v) for k, v in params if k != "sort"]
    current = request.sort if request else DEFAULT_SORT
    headers = {}
    for column, (first, second) in HEADERS.items():
        target = second if current == first and first != second else first
        aria = ""
        if current in (first, second):
            aria = "descending" if current.startswith("-") or current == "priority" else "ascending"
        headers[column] = {"query": urlencode([*base, ("sort", target)]), "aria": aria}
    return headers


@login_required
@require_GET
@never_cache
@vary_on_headers("HX-Request")
def items_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    user = current_user(request)
    queue = queue_for_reader(user=user, slug=slug)  # NotFound: the 404 page
    views, last = saved_views_for(user=user, queue=queue)
    params = request.GET
    if not params and last:
        params = QueryDict(last)  # opened bare: the filters used last time
    context: dict[str, Any] = {
        "queue": queue,
        "form": _form(params),
        "errors": {},
        "views": views,
        "statuses": STATUSES,
        "routes": ROUTES,
        "sorts": list(SORTS),
        "may_review": access.can_review(user, queue),
        "reasons": reasons(queue.reason_codes),
        "nav": "queues",
    }
    status = 200
    items: ItemsRequest | None = None
    try:
        items = parse_items_request(user=user, queue=queue, params=params)
        page = items_page(queue=queue, request=items)
    except ValidationFailed as exc:
        context.update(errors=exc.errors or {}, problem=exc.detail, rows=[])
        status = 400
    else:
        query = items.query_string()
        if query != (last or ""):
            last_filters_remember(user=user, queue=queue, query=query)
        next_query = None
        if page.next_cursor:
            next_query = urlencode([*items.params(), ("cursor", page.next_cursor)])
        context.update(
            rows=_rows(user, page.items),
            query=query,
            next_query=next_query,
            first_page=bool(params.get("cursor")),
            filtered=items.filtered,
        )
    context["headers"] = _headers(items)
    return render_page(request, PAGE, "items", context, status)


def _back(queue: Queue, query: str) -> HttpResponse:
    url = reverse("queue-items", args=[queue.slug])
    return redirect(f"{url}?{query}" if query else url)


@login_required
@require_POST
@errors_back_to("queue-items")
def view_save(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    user = current_user(request)
    queue = queue_for_reader(user=user, slug=slug)
    # Normalised through the parser, so a view holds only parameters the list knows.
    items = parse_items_request(
        user=user, queue=queue, params=QueryDict(request.POST.get("query", ""))
    )
    view = saved_view_save(
        user=user, queue=queue, name=request.POST.get("name", ""), query=items.query_string()
    )
    messages.success(request, f"Saved the view “{view.name}”.")
    return _back(queue, view.query)


@login_required
@require_POST
def view_delete(request: HtmxHttpRequest, slug: str, view_id: int) -> HttpResponse:
    user = current_user(request)
    queue = queue_for_reader(user=user, slug=slug)
    name = saved_view_delete(user=user, queue=queue, view_id=view_id)
    messages.info(request, f"Deleted the view “{name}”.")
    return _back(queue, "")


@login_required
@require_POST
@errors_back_to("queue-items")
def items_bulk(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Approve or reject the selected items with one reason: first a confirmation that says
    how many will be decided and which are left out and why (nothing changes), then, posted
    again with `confirm`, the bulk decision itself (services/bulk.py), back to the list with
    its results."""
    user = current_user(request)
    queue = queue_for_reader(user=user, slug=slug)
    if not access.can_review(user, queue):
        raise Forbidden(f"You do not review queue '{queue.slug}'.")
    post = request.POST
    ids, outcome = post.getlist("ids"), post.get("outcome", "")
    reason_code, comment = post.get("reason_code", ""), post.get("comment", "")
    if not ids:
        messages.error(request, "Select the items to decide first.")
        return redirect("queue-items", slug=queue.slug)
    wanted = bulk_request_check(queue, ids, outcome, reason_code, comment)
    if post.get("confirm") != "1":
        preview = bulk_preview(user=user, queue=queue, ids=wanted)
        context = {
            "queue": queue,
            "outcome": outcome,
            "reason_code": reason_code,
            "comment": comment,
            "ids": wanted,
            "taken": [rec for rec, refusal in preview if refusal is None],
            "refused": [
                (rec, pk, refusal)
                for (rec, refusal), pk in zip(preview, wanted, strict=True)
                if refusal
            ],
            "nav": "queues",
        }
        return render(request, BULK_PAGE, context)
    results = recommendations_bulk_decide(
        user=user,
        queue=queue.slug,
        ids=wanted,
        outcome=outcome,
        reason_code=reason_code,
        comment=comment,
    )
    done = sum(1 for r in results if r.status == 200)
    verb = "Approved" if outcome == "approve" else "Rejected"
    messages.success(request, f"{verb} {done} of {len(results)} selected items.")
    for r in results:
        if r.status != 200:
            messages.warning(request, f"{r.id}: not decided ({r.reason}). {r.detail}".strip())
    return redirect("queue-items", slug=queue.slug)
