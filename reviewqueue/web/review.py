"""The review page: show the item you hold, claim the next, decide it with buttons or keys.

A GET never changes state: it shows the item the reviewer already holds in the queue, or
how many wait and a "Claim the next item" button, which POSTs to `review-claim` (PRG: 303 back
to the page; htmx gets the item region at once). Each decision POST calls one review
service; on success it claims the next item in the same request, so deciding and moving on
stay one action: htmx swaps `#item` with it, a plain form post redirects to the page, which
shows it (PRG). A refused form answers 400 with the form and its errors, a lost lease 409
with the reason.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from reviewqueue import access
from reviewqueue.domain.reasons import reasons
from reviewqueue.exceptions import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from reviewqueue.lib.markdown import guidelines_html, guidelines_version
from reviewqueue.models import Queue, Recommendation
from reviewqueue.selectors.queues import escalation_of, review_item, waiting_count
from reviewqueue.selectors.recommendations import held_item, undo_offer
from reviewqueue.selectors.votes import votes_shown
from reviewqueue.services.review import (
    queue_access,
    queue_for,
    recommendation_claim,
    recommendation_claim_chosen,
    recommendation_decide,
    recommendation_escalate,
    recommendation_release,
)
from reviewqueue.services.undo import recommendation_undo
from reviewqueue.states import Route, Status
from reviewqueue.web.forms import ModifyForm, modify_form, modify_payload
from reviewqueue.web.pages import HtmxHttpRequest, current_user, render_page

PAGE = "reviewqueue/review/page.html"
PANELS = ("modify", "reject", "escalate")
DONE = {"approve": "Approved", "modify": "Modified and approved", "reject": "Rejected"}
# Errors that belong next to a panel's own fields rather than in the general list.
PANEL_FIELDS = ("reason_code", "comment")

ReviewView = Callable[..., HttpResponse]


class SeeOther(HttpResponseRedirect):
    """303: after a POST, GET the page (PRG) whatever the POST's method was."""

    status_code = 303


def review_view(view: ReviewView) -> ReviewView:
    """Login, the queue named in the URL, and the answers all review views share: an unknown
    queue or item is 404, and so is a queue the user is not a member of, unless they read
    every queue (admins, auditors: the 403 page says why they may not review)."""

    @login_required
    @never_cache  # the page reflects a lease; never show a stale copy
    @vary_on_headers("HX-Request")
    @wraps(view)
    def wrapper(request: HtmxHttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, queue_for(slug=slug), **kwargs)
        except NotFound:
            raise Http404("No such queue or item.") from None
        except Forbidden as exc:
            # Someone who cannot read every queue learns nothing of a queue they are not in:
            # the same 404 as for no queue at all (no probing of queue names).
            if not access.reads_every_queue(current_user(request)):
                raise Http404("No such queue or item.") from None
            context = {"slug": slug, "detail": exc.detail}
            return render(request, "reviewqueue/review/forbidden.html", context, status=403)

    return wrapper


def _urls(queue: Queue, rec: Recommendation) -> dict[str, str]:
    args = [queue.slug, rec.pk]
    return {
        "decide_url": reverse("review-decide", args=args),
        "escalate_url": reverse("review-escalate", args=args),
        "release_url": reverse("review-release", args=args),
    }


def _item_context(
    request: HtmxHttpRequest,
    queue: Queue,
    rec: Recommendation | None,
    *,
    panel: str = "",
    exc: DomainError | None = None,
    notice: str = "",
    lost: str = "",
    undo: tuple[uuid.UUID, datetime] | None = None,
) -> dict[str, Any]:
    """Everything the `item` region shows: the item, its forms (re-filled with the submitted
    values when `exc` refused them), or the claim button (with how many wait), the empty
    or the lost-lease state."""
    senior = queue_access(user=current_user(request), queue=queue).senior
    now = timezone.now()
    errors = (exc.errors or {}) if exc else {}
    if exc and not errors:
        errors = {"form": exc.detail}
    data = request.POST if exc else None
    context: dict[str, Any] = {
        "queue": queue,
        "rec": rec,
        "panel": panel if panel in PANELS else "",
        "errors": errors,
        "general_errors": {
            k: v for k, v in errors.items() if k not in PANEL_FIELDS and not k.startswith("payload")
        },
        "data": data or {},
        "reasons": reasons(queue.reason_codes),
        "modify_reason_invalid": bool(errors.get("reason_code")) and panel == "modify",
        "reject_reason_invalid": bool(errors.get("reason_code")) and panel == "reject",
        # Rendered once per text (lib/markdown.py caches by content), not per request.
        "guidelines_html": guidelines_html(queue.guidelines),
        "guidelines_version": guidelines_version(queue.guidelines),
        "notice": notice,
        "undo": _undo_context(queue, undo),
        "lost": lost,
        "now": now,
        "senior": senior,
        "waiting": waiting_count(queue=queue, senior=senior, user=current_user(request)),
        "review_url": reverse("review", args=[queue.slug]),
        "claim_url": reverse("review-claim", args=[queue.slug]),
        "nav": "queues",
    }
    if rec is not None:
        context.update(_urls(queue, rec))
        remaining = (rec.lease_expires_at - now).total_seconds() if rec.lease_expires_at else 0
        context["lease_seconds"] = max(0, int(remaining))
        context["escalation"] = escalation_of(recommendation=rec)
        if rec.reviewers_needed > 1:  # consensus: the votes this viewer may see
            context["votes"] = votes_shown(
                user=current_user(request), recommendation=rec, senior=senior
            )
        # Blind review: the form starts empty, never from the hidden proposal.
        context["blind"] = rec.route == Route.SHADOW
        context["not_blind"] = not context["blind"]
        context["modify"] = modify_form(
            rec.action_type.payload_schema,
            _form_start(rec),
            data=data if panel == "modify" else None,
            errors=errors if panel == "modify" else None,
        )
        if panel == "modify":
            context["modify_errors"] = _modify_errors(context["modify"], errors)
    return context


def _modify_errors(form: ModifyForm, errors: dict[str, str]) -> list[dict[str, str]]:
    """The refused Modify form's error summary: every problem once, linked to its field
    (the fields' own errors, those no field took, and the reason's and comment's)."""
    found = [
        {"href": f"#{f.id}" if f.id else "", "label": f.label, "message": f.error}
        for f in form.fields
        if f.error and f.widget != "group_end"
    ]
    found += [{"href": "", "label": path, "message": m} for path, m in form.summary.items()]
    for key, where in (("reason_code", "#modify-reason"), ("comment", "#modify-comment")):
        if errors.get(key):
            label = "Reason" if key == "reason_code" else "Comment"
            found.append({"href": where, "label": label, "message": errors[key]})
    return found


def _form_start(rec: Recommendation) -> Any:
    """What the Modify form starts from: the proposal, or nothing in a blind review."""
    return {} if rec.route == Route.SHADOW else rec.payload


def _item(
    request: HtmxHttpRequest,
    queue: Queue,
    rec: Recommendation | None,
    status: int = 200,
    **kw: Any,
) -> HttpResponse:
    return render_page(request, PAGE, "item", _item_context(request, queue, rec, **kw), status)


def _item_of(
    request: HtmxHttpRequest, queue: Queue, recommendation_id: uuid.UUID
) -> Recommendation:
    """The item of `queue` a POST names. No such item: 404 to members, and to anyone else
    the same 403 as for the queue's real items, so ids cannot be probed from outside."""
    rec = review_item(queue=queue, recommendation_id=recommendation_id)
    if rec is None:
        queue_access(user=current_user(request), queue=queue)
        raise NotFound("No such item in this queue.")
    return rec


def _undo_context(queue: Queue, undo: tuple[uuid.UUID, datetime] | None) -> Any:
    if undo is None:
        return None
    pk, until = undo
    return {
        "url": reverse("review-undo", args=[queue.slug, pk]),
        "until": until.isoformat(),
        "seconds": max(1, int((until - timezone.now()).total_seconds())),
    }


def _next(
    request: HtmxHttpRequest, queue: Queue, notice: str, decided: uuid.UUID | None = None
) -> HttpResponse:
    """After a decision: the next item is claimed in this same POST, so deciding and moving
    on stay one action; htmx gets it at once, a plain form post is redirected to the page,
    which shows it (PRG). The notice offers Undo while the queue's window is open."""
    user = current_user(request)
    rec = recommendation_claim(user=user, queue=queue)
    until = undo_offer(user=user, queue=queue, recommendation_id=decided) if decided else None
    if not request.htmx:
        messages.success(request, notice)
        url = reverse("review", args=[queue.slug])
        return redirect(f"{url}?undo={decided}" if until else url)
    return _item(request, queue, rec, notice=notice, undo=(decided, until) if until else None)


def _lost(request: HtmxHttpRequest, queue: Queue, exc: Conflict) -> HttpResponse:
    return _item(request, queue, None, status=exc.status_code, lost=exc.detail)


@require_GET
@review_view
def review_page(request: HtmxHttpRequest, queue: Queue) -> HttpResponse:
    """Reads only (a link preview or a prefetch must not take an item): the item held."""
    # Non-members are refused while the region is built (queue_access in _item_context).
    user = current_user(request)
    rec = held_item(user=user, queue=queue)
    undo = None
    try:
        decided = uuid.UUID(request.GET.get("undo", ""))
    except ValueError:
        decided = None
    if decided is not None:  # after a plain-form decision: Undo while the window is open
        until = undo_offer(user=user, queue=queue, recommendation_id=decided)
        undo = (decided, until) if until else None
    return _item(request, queue, rec, panel=request.GET.get("panel", ""), undo=undo)


@require_POST
@review_view
def claim(request: HtmxHttpRequest, queue: Queue) -> HttpResponse:
    """The next item under a lease (or the one already held); none waiting: the page says so."""
    rec = recommendation_claim(user=current_user(request), queue=queue)
    if request.htmx:
        return _item(request, queue, rec)
    return SeeOther(reverse("review", args=[queue.slug]))


@require_POST
@review_view
def claim_chosen(
    request: HtmxHttpRequest, queue: Queue, recommendation_id: uuid.UUID
) -> HttpResponse:
    """This item (picked from the items list) under a lease, then the review page on it."""
    rec = _item_of(request, queue, recommendation_id)
    try:
        rec = recommendation_claim_chosen(user=current_user(request), recommendation_id=rec.pk)
    except Conflict as exc:
        if request.htmx:
            return _lost(request, queue, exc)
        messages.error(request, exc.detail)
        return SeeOther(reverse("review", args=[queue.slug]))
    if request.htmx:
        return _item(request, queue, rec)
    return SeeOther(reverse("review", args=[queue.slug]))


@require_POST
@review_view
def decide(request: HtmxHttpRequest, queue: Queue, recommendation_id: uuid.UUID) -> HttpResponse:
    rec = _item_of(request, queue, recommendation_id)
    post, outcome = request.POST, request.POST.get("outcome", "")
    payload: Any = None
    form_errors: dict[str, str] = {}
    if outcome == "modify":
        payload, form_errors = modify_payload(
            rec.action_type.payload_schema, _form_start(rec), post
        )
    try:
        if form_errors:
            raise ValidationFailed("The edited payload is not valid.", errors=form_errors)
        decided = recommendation_decide(
            user=current_user(request),
            recommendation_id=rec.pk,
            outcome=outcome,
            payload=payload,
            reason_code=post.get("reason_code", ""),
            comment=post.get("comment", ""),
        )
    except ValidationFailed as exc:
        return _item(request, queue, rec, status=400, panel=outcome, exc=exc)
    except Conflict as exc:
        return _lost(request, queue, exc)
    if decided.status != Status.DECIDED:  # consensus: a vote, the item waits or escalated
        return _next(request, queue, _vote_notice(decided), rec.pk)
    if rec.route == Route.SHADOW:
        return _next(request, queue, f"Recorded your blind review of {rec.external_id}.", rec.pk)
    return _next(request, queue, f"{DONE[outcome]} {rec.external_id}.", rec.pk)


def _vote_notice(rec: Recommendation) -> str:
    if rec.status == Status.ESCALATED:
        return (
            f"Recorded your vote on {rec.external_id}. The votes differ: it goes to senior "
            "reviewers."
        )
    return (
        f"Recorded your vote on {rec.external_id}; it waits for "
        f"{rec.reviewers_needed} reviewers in all."
    )


@require_POST
@review_view
def undo(request: HtmxHttpRequest, queue: Queue, recommendation_id: uuid.UUID) -> HttpResponse:
    """Take back the decision just made (within the queue's undo window): the item is back
    in the reviewer's hands; the page shows it again."""
    rec = _item_of(request, queue, recommendation_id)
    try:
        rec = recommendation_undo(user=current_user(request), recommendation_id=rec.pk)
    except Conflict as exc:
        if not request.htmx:
            messages.error(request, exc.detail)
            return SeeOther(reverse("review", args=[queue.slug]))
        held = held_item(user=current_user(request), queue=queue)
        return _item(request, queue, held, notice=exc.detail)
    notice = f"Undone: {rec.external_id} is back in your hands; decide it again."
    shown: Recommendation | None = rec
    if rec.claimed_by_id != current_user(request).pk:  # a vote taken back; another holds it
        notice = f"Undone: your vote on {rec.external_id} is taken back; claim it again later."
        shown = held_item(user=current_user(request), queue=queue)
    if not request.htmx:
        messages.info(request, notice)
        return SeeOther(reverse("review", args=[queue.slug]))
    return _item(request, queue, shown, notice=notice)


@require_POST
@review_view
def escalate(request: HtmxHttpRequest, queue: Queue, recommendation_id: uuid.UUID) -> HttpResponse:
    rec = _item_of(request, queue, recommendation_id)
    try:
        recommendation_escalate(
            user=current_user(request),
            recommendation_id=rec.pk,
            comment=request.POST.get("comment", ""),
        )
    except ValidationFailed as exc:
        return _item(request, queue, rec, status=400, panel="escalate", exc=exc)
    except Conflict as exc:
        return _lost(request, queue, exc)
    return _next(request, queue, f"Escalated {rec.external_id} to the senior reviewers.")


@require_POST
@review_view
def release(request: HtmxHttpRequest, queue: Queue, recommendation_id: uuid.UUID) -> HttpResponse:
    rec = _item_of(request, queue, recommendation_id)
    try:
        recommendation_release(user=current_user(request), recommendation_id=rec.pk)
    except Conflict as exc:
        return _lost(request, queue, exc)
    # Not claiming here: the released item would usually come straight back.
    notice = f"Released {rec.external_id}; it is back in the queue for anyone to take."
    if not request.htmx:
        messages.info(request, notice)
        return redirect("review", slug=queue.slug)
    return _item(request, queue, None, notice=notice)
