"""The permissions matrix: every URL the project serves, asked by every persona, answers an
exact status. One world (two queues, each with its own source and API key; five people)
is built once for the class; every cell runs in its own savepoint that is rolled back, so
no cell sees another's changes and the order of cells does not matter.

Personas (columns, in this order):

    anon     nobody: no session, no key
    src      the API key of queue A's own source (refund-bot)
    srcB     the API key of queue B's source (other-bot), asking about queue A
    out      outsider: role reviewer, member of no queue
    rev      reviewer: member of queue A; holds the item `held` under a lease
    sen      senior: senior member of queue A
    aud      auditor: reads every queue and report, reviews nothing
    adm      admin: role admin (staff), not a member of any queue

Conventions the table asserts:

- Anonymous on a page: 302 to /login/ (the admin: to /admin/login/). On the API: 401
  problem+json. An API key is not a person: pages ignore it (as anonymous) and the
  people's API answers 401; a person's token on the ingest API is 401 too.
- Reads of things in a queue you may not read (an item, a queue page, its QA list, the
  dead executions) are 404, never 403, so nobody learns which ids exist. Admins and
  auditors read every queue; a source reads only its own items (another's: 404).
- Acting where you may read but your role does not allow it is 403: an auditor or a
  reviewer moving a stage, an auditor retrying an execution, an admin giving a QA verdict
  in a queue they are not a member of.
- Reviewing is for members of the queue: the review page and its POSTs say 403 ("You
  cannot review this queue") to any signed-in non-member, whichever item id the URL names
  (a member gets 404 for an id that is not in the queue). The review API answers 403 to
  non-members too: the public contract fixes it ("403 when you are not a member of its
  queue").
- An item you may act on but which is not yours to decide (held by someone else) is 409.
- A web POST that works redirects (302, PRG; the claim: 303 See Other); with HX-Request it
  answers the partial (200). A GET never claims: the review page only shows what is held.

Leaks: no response to `srcB`, `out` or `anon` may contain the marker that every item of
queue A carries in its external id and rationale (`canary-a`).

`test_every_url_has_a_row` fails when a URL is added to config.urls without a row here.
"""

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client, TestCase, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from reviewqueue.models import (
    ApiKey,
    AuditEvent,
    Decision,
    Execution,
    Notification,
    Queue,
    Recommendation,
    SavedView,
    User,
)
from reviewqueue.reporting.csv_sections import CSV_SECTIONS
from reviewqueue.services.audit import Actor
from reviewqueue.services.incidents import incident_record
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from reviewqueue.services.tokens import personal_token_create
from tests.conftest import item, make_people
from tests.factories import (
    ActionTypeFactory,
    QueueFactory,
    SourceFactory,
    make_key,
)

PERSONAS = ("anon", "src", "srcB", "out", "rev", "sen", "aud", "adm")
PEOPLE = ("out", "rev", "sen", "aud", "adm")
CANARY = "canary-a"
MUST_NOT_SEE_A = ("anon", "srcB", "out")


@dataclass(frozen=True)
class Redirect:
    """`status` (302 unless told) to the path `to` (any query); `to=None`: a redirect that is
    not to a login page."""

    to: str | None
    status: int = 302

    def __repr__(self) -> str:
        return f"{self.status}→{self.to or 'page'}"


@dataclass(frozen=True)
class Batch:
    """200 from the batch endpoint with the single item judged `status`."""

    status: int

    def __repr__(self) -> str:
        return f"200[{self.status}]"


LOGIN = Redirect("/login/")
ALOGIN = Redirect("/admin/login/")
TO_ADMIN = Redirect("/admin/")
GO = Redirect(None)
SEE = Redirect(None, 303)  # See Other: after the claim's POST, GET the page
Expected = int | Redirect | Batch

GET, POST = "GET", "POST"
HX = {"HTTP_HX_REQUEST": "true"}
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # with {placeholders} filled from the world's ids
    expect: tuple[Expected, ...]  # one per persona, in PERSONAS order
    data: dict[str, Any] | None = None  # form fields for pages, a JSON body for the API
    htmx: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # more WSGI environ
    settings: dict[str, Any] = field(default_factory=dict)  # overridden for the row

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}{' (htmx)' if self.htmx else ''}"


def R(method: str, path: str, *expect: Expected, **options: Any) -> Row:
    assert len(expect) == len(PERSONAS), (path, expect)
    return Row(method, path, tuple(expect), **options)


def everyone(status: Expected) -> tuple[Expected, ...]:
    return tuple(status for _ in PERSONAS)


DECISION = {"outcome": "approve"}
ESCALATE = {"comment": "needs a senior"}
STAGE = {"to_stage": "shadow", "comment": "matrix"}
QA = {"verdict": "correct"}
INCIDENT = {"severity": "low", "summary": "matrix"}
BAD_LOGIN = {"username": "nobody", "password": "wrong"}
VIEW = {"name": "matrix view", "query": "sort=-created_at"}

# fmt: off
ROWS: list[Row] = [
    # --- operations and API documentation: public --------------------------------------------
    #  method path                                         anon    src     srcB    out     rev     sen     aud     adm
    R(GET,  "/healthz",                                    *everyone(200)),
    R(GET,  "/readyz",                                     *everyone(200)),
    R(GET,  "/api/v1/schema/",                             *everyone(200)),
    R(GET,  "/api/v1/docs/",                               *everyone(200)),
    R(GET,  "/metrics",                                    *everyone(404), note="off: no scrape token set"),
    R(GET,  "/metrics",                                    *everyone(401), settings={"REVIEWQUEUE_METRICS_TOKEN": "scrape"},
      note="only the scrape token opens it: no key, session or personal token does"),

    # --- signing in and out ---------------------------------------------------------------------
    R(GET,  "/",                                           LOGIN,  LOGIN,  LOGIN,  GO,     GO,     GO,     GO,     GO),
    R(GET,  "/login/",                                     200,    200,    200,    GO,     GO,     GO,     GO,     GO),
    R(POST, "/login/",                                     200,    200,    200,    GO,     GO,     GO,     GO,     GO,
      data=BAD_LOGIN, note="a wrong password shows the form again"),
    R(GET,  "/logout/",                                    *everyone(405)),
    R(POST, "/logout/",                                    *everyone(LOGIN)),

    # --- the reviewer's pages -------------------------------------------------------------------
    R(GET,  "/queues/",                                    LOGIN,  LOGIN,  LOGIN,  200,    200,    200,    200,    200),
    R(GET,  "/queues/{a}/",                                LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    200,    200),
    R(POST, "/queues/{a}/stage",                           LOGIN,  LOGIN,  LOGIN,  404,    403,    403,    403,    GO,
      data=STAGE),
    R(GET,  "/queues/{a}/qa/",                             LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    200,    200),
    R(POST, "/queues/{a}/qa/{sampled}",                    LOGIN,  LOGIN,  LOGIN,  404,    GO,     GO,     403,    403,
      data=QA),
    R(POST, "/queues/{a}/qa/{b_item}",                     LOGIN,  LOGIN,  LOGIN,  404,    404,    404,    404,    404,
      data=QA, note="an item of another queue under queue A's URL"),
    R(POST, "/queues/{a}/resume",                          LOGIN,  LOGIN,  LOGIN,  404,    403,    403,    403,    GO),
    R(GET,  "/queues/{a}/incidents/",                      LOGIN,  LOGIN,  LOGIN,  404,    403,    403,    200,    200),
    R(POST, "/queues/{a}/incidents/",                      LOGIN,  LOGIN,  LOGIN,  404,    403,    403,    403,    GO,
      data=INCIDENT),
    R(POST, "/queues/{a}/incidents/{incident}/resolve",    LOGIN,  LOGIN,  LOGIN,  404,    403,    403,    403,    GO),
    R(GET,  "/executions/dead/",                           LOGIN,  LOGIN,  LOGIN,  404,    404,    404,    200,    200),
    R(POST, "/executions/{dead}/retry",                    LOGIN,  LOGIN,  LOGIN,  404,    404,    404,    403,    GO),
    R(GET,  "/queues/{a}/review/",                         LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    403,    403),
    R(GET,  "/queues/{a}/review/",                         LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    403,    403,
      htmx=True),
    R(POST, "/queues/{a}/review/claim",                    LOGIN,  LOGIN,  LOGIN,  404,    SEE,    SEE,    403,    403,
      note="rev gets back the item held; sen claims the next"),
    R(POST, "/queues/{a}/review/claim",                    LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    403,    403,
      htmx=True),
    R(GET,  "/queues/{a}/review/claim",                    *everyone(405), note="a GET never claims"),
    R(POST, "/queues/{a}/review/{held}/decide",            LOGIN,  LOGIN,  LOGIN,  404,    GO,     409,    403,    403,
      data=DECISION),
    R(POST, "/queues/{a}/review/{held}/decide",            LOGIN,  LOGIN,  LOGIN,  404,    200,    409,    403,    403,
      data=DECISION, htmx=True),
    R(POST, "/queues/{a}/review/{b_item}/decide",          LOGIN,  LOGIN,  LOGIN,  404,    404,    404,    403,    403,
      data=DECISION, note="no such item in queue A: non-members hear the same 403 as for real ones"),
    R(POST, "/queues/{a}/review/{held}/escalate",          LOGIN,  LOGIN,  LOGIN,  404,    GO,     409,    403,    403,
      data=ESCALATE),
    R(POST, "/queues/{a}/review/{held}/escalate",          LOGIN,  LOGIN,  LOGIN,  404,    200,    409,    403,    403,
      data=ESCALATE, htmx=True),
    R(POST, "/queues/{a}/review/{held}/release",           LOGIN,  LOGIN,  LOGIN,  404,    GO,     409,    403,    403),
    R(POST, "/queues/{a}/review/{held}/release",           LOGIN,  LOGIN,  LOGIN,  404,    200,    409,    403,    403,
      htmx=True),
    R(GET,  "/queues/{a}/review/{held}/decide",            *everyone(405), note="the method is checked first"),
    R(POST, "/queues/{a}/items/bulk",                      LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    403,    403,
      data={"ids": "{pending}", "outcome": "approve"}, note="the confirmation; nothing changes yet"),
    R(POST, "/queues/{a}/review/{decided}/undo",           LOGIN,  LOGIN,  LOGIN,  404,    404,    SEE,    403,    403,
      note="only the decider (sen; the window is closed: undo is off in tests, so a message)"),
    R(POST, "/queues/{a}/review/{pending}/claim",          LOGIN,  LOGIN,  LOGIN,  404,    SEE,    SEE,    403,    403,
      note="claim the item chosen from the list; readers who review nothing: 403"),
    R(POST, "/queues/{a}/review/{pending}/claim",          LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    403,    403,
      htmx=True),
    R(GET,  "/recommendations/{pending}/",                 LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    200,    200),
    R(GET,  "/recommendations/{b_item}/",                  LOGIN,  LOGIN,  LOGIN,  404,    404,    404,    200,    200),

    # --- the items list and its saved views (issue 17 #1): readers of the queue ----------------
    R(GET,  "/queues/{a}/items/",                          LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    200,    200),
    R(GET,  "/queues/{a}/items/?sort=nope",                LOGIN,  LOGIN,  LOGIN,  404,    400,    400,    400,    400),
    R(GET,  "/queues/{a}/items/",                          LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    200,    200,
      htmx=True),
    R(POST, "/queues/{a}/items/views",                     LOGIN,  LOGIN,  LOGIN,  404,    GO,     GO,     GO,     GO,
      data=VIEW, note="a preference: anyone who reads the queue keeps their own views"),
    R(POST, "/queues/{a}/items/views/{view}/delete",       LOGIN,  LOGIN,  LOGIN,  404,    GO,     404,    404,    404,
      note="rev's own view; nobody else's"),
    R(GET,  "/queues/{a}/items/views/{view}/delete",       LOGIN,  LOGIN,  LOGIN,  405,    405,    405,    405,    405),

    # --- a person's settings: their own tokens (issue 14 #4) -------------------------------------
    R(GET,  "/settings/",                                  LOGIN,  LOGIN,  LOGIN,  200,    200,    200,    200,    200),
    R(POST, "/settings/tokens/",                           LOGIN,  LOGIN,  LOGIN,  200,    200,    200,    200,    200,
      data={"days": "7"}, note="the new token is shown once on this page"),
    R(POST, "/settings/tokens/{rev_token_pk}/revoke",      LOGIN,  LOGIN,  LOGIN,  404,    GO,     404,    404,    GO,
      note="the owner, or an admin; nobody else learns the token exists"),
    R(GET,  "/settings/tokens/{rev_token_pk}/revoke",      LOGIN,  LOGIN,  LOGIN,  405,    405,    405,    405,    405),
    R(POST, "/settings/notifications",                     LOGIN,  LOGIN,  LOGIN,  GO,     GO,     GO,     GO,     GO,
      data={"email_events": "digest"}, note="a preference of one's own (issue 18 #4)"),
    R(GET,  "/settings/notifications",                     LOGIN,  LOGIN,  LOGIN,  405,    405,    405,    405,    405),

    # --- reports: everyone signed in sees their own numbers; admins and auditors all -------------
    R(GET,  "/reports/",                                   LOGIN,  LOGIN,  LOGIN,  200,    200,    200,    200,    200),
    R(GET,  "/reports/",                                   LOGIN,  LOGIN,  LOGIN,  200,    200,    200,    200,    200,
      htmx=True),
    R(GET,  "/reports/?queue={a}",                         LOGIN,  LOGIN,  LOGIN,  404,    200,    200,    200,    200),
    R(GET,  "/reports/?queue=no-such-queue",               LOGIN,  LOGIN,  LOGIN,  404,    404,    404,    400,    400,
      note="a queue you may not read and one that does not exist answer alike; readers of every queue: 400"),
    R(GET,  "/reports/nope.csv",                           LOGIN,  LOGIN,  LOGIN,  404,    404,    404,    404,    404),

    # --- ingest API (source keys) ---------------------------------------------------------------
    R(POST, "/api/v1/recommendations",                     401,    201,    403,    401,    401,    401,    401,    401,
      data=item(external_id="new-one")),
    R(GET,  "/api/v1/recommendations?queue={a}",           401,    200,    200,    401,    401,    401,    401,    401,
      note="srcB gets an empty list"),
    R(POST, "/api/v1/recommendations/batch",               401,    Batch(201), Batch(403), 401, 401, 401,   401,    401,
      data={"items": [item(external_id="new-in-batch")]}),
    R(GET,  "/api/v1/recommendations/{pending}",           401,    200,    404,    404,    200,    200,    200,    200),
    R(GET,  "/api/v1/recommendations/{b_item}",            401,    404,    200,    404,    404,    404,    200,    200),
    R(POST, "/api/v1/recommendations/{shadow}/human-outcome", 401, 200,    404,    401,    401,    401,    401,    401,
      data={"outcome": "approve"}),

    # --- review API (people: personal token) ----------------------------------------------------
    R(POST, "/api/v1/queues/{a}/claim",                    401,    401,    401,    403,    200,    200,    403,    403),
    R(POST, "/api/v1/queues/{a}/bulk-decision",            401,    401,    401,    403,    200,    200,    403,    403,
      data={"ids": ["{pending}"], "outcome": "approve"}, note="per-item results; the pending item's risk is 0.42"),
    R(POST, "/api/v1/recommendations/{held}/decision",     401,    401,    401,    403,    200,    409,    403,    403,
      data=DECISION),
    R(POST, "/api/v1/recommendations/{held}/escalate",     401,    401,    401,    403,    200,    409,    403,    403,
      data=ESCALATE),
    R(POST, "/api/v1/recommendations/{held}/release",      401,    401,    401,    403,    200,    409,    403,    403),
    R(POST, "/api/v1/recommendations/{pending}/claim",     401,    401,    401,    403,    200,    200,    403,    403),
    R(POST, "/api/v1/recommendations/{held}/claim",        401,    401,    401,    403,    200,    409,    403,    403,
      note="the holder gets it back; anyone else: held_by_other"),
    R(POST, "/api/v1/recommendations/{decided}/undo",      401,    401,    401,    403,    403,    409,    403,    403,
      note="only the decider (sen, here past the window: undo is off in tests' queues)"),
    R(POST, "/api/v1/recommendations/{pending}/assign",    401,    401,    401,    404,    403,    200,    403,    200,
      data={"user": "rita"}, note="seniors of the queue and admins assign"),
    R(POST, "/api/v1/recommendations/{sampled}/qa",        401,    401,    401,    403,    200,    200,    403,    403,
      data=QA),
    R(POST, "/api/v1/queues/{a}/stage",                    401,    401,    401,    403,    403,    403,    403,    200,
      data=STAGE),
    R(GET,  "/api/v1/queues/{a}/incidents",                401,    403,    403,    403,    403,    403,    200,    200,
      note="a source's key is recognised and refused"),
    R(POST, "/api/v1/queues/{a}/incidents",                401,    403,    403,    403,    403,    403,    403,    201,
      data=INCIDENT),
    R(POST, "/api/v1/queues/{a}/incidents/{incident}/resolve", 401, 403,   403,    403,    403,    403,    403,    200,
      data={}),
    R(GET,  "/api/v1/queues/{a}/claim",                    401,    401,    401,    405,    405,    405,    405,    405,
      note="who you are is settled before the method"),
    R(GET,  "/api/v1/queues/{a}/items",                    401,    401,    401,    404,    200,    200,    200,    200),
    R(GET,  "/api/v1/queues/{a}/items?limit=0",            401,    401,    401,    404,    400,    400,    400,    400,
      note="who may read the queue is settled before the parameters"),

    # --- reports API ----------------------------------------------------------------------------
    R(GET,  "/api/v1/metrics/trend?queue={a}",             401,    401,    401,    404,    200,    200,    200,    200),
    R(GET,  "/api/v1/metrics/trend?queue=no-such-queue",   401,    401,    401,    404,    404,    404,    400,    400),
    R(GET,  "/api/v1/metrics/reasons?queue={a}",           401,    401,    401,    404,    200,    200,    200,    200),
    R(GET,  "/api/v1/metrics/reasons?queue=no-such-queue", 401,    401,    401,    404,    404,    404,    400,    400),
    R(GET,  "/api/v1/metrics/agreement?queue={a}",         401,    401,    401,    404,    200,    200,    200,    200),
    R(GET,  "/api/v1/metrics/agreement?queue=no-such-queue", 401,  401,    401,    404,    404,    404,    400,    400),
    R(GET,  "/api/v1/exports/decisions.jsonl",             401,    401,    401,    403,    403,    403,    200,    200),
    R(GET,  "/api/v1/exports/audit.jsonl",                 401,    401,    401,    403,    403,    403,    200,    200),
]
# fmt: on

# Every CSV section of /reports/<section>.csv, for queue A. Readiness is for admins and
# auditors only (404 to others, who see their own numbers in the other sections).
CSV_EXPECT: dict[str, tuple[Expected, ...]] = {
    section: (LOGIN, LOGIN, LOGIN, 404, 200, 200, 200, 200) for section in CSV_SECTIONS
}
CSV_EXPECT["readiness"] = (LOGIN, LOGIN, LOGIN, 404, 404, 404, 200, 200)
ROWS += [R(GET, f"/reports/{s}.csv?queue={{a}}", *e) for s, e in CSV_EXPECT.items()]
# Without a queue: each person's own queues (the outsider's: none at all).
ROWS += [
    R(GET, f"/reports/{s}.csv", *e[:3], 404 if s == "readiness" else 200, *e[4:])
    for s, e in CSV_EXPECT.items()
]

# --- The Django admin -------------------------------------------------------------------------
# Only staff (the admin) gets in; everyone else is sent to the admin's sign-in page, which
# anyone may open. What the admin may do per registered model:
EDITABLE, READ_ONLY = "editable", "read-only"
ADMIN_MODELS = {
    "auth.group": EDITABLE,
    "reviewqueue.user": EDITABLE,
    "reviewqueue.queue": EDITABLE,
    "reviewqueue.actiontype": EDITABLE,
    "reviewqueue.source": EDITABLE,
    "reviewqueue.apikey": READ_ONLY,  # revoked by its action, never edited
    "reviewqueue.personaltoken": READ_ONLY,  # revoked by its action, never edited
    "reviewqueue.recommendation": READ_ONLY,  # changed only through services
    "reviewqueue.decision": READ_ONLY,
    "reviewqueue.execution": READ_ONLY,  # retried by its action
    "reviewqueue.auditevent": READ_ONLY,
    "reviewqueue.notification": READ_ONLY,  # the notification outbox: dead rows and errors
}
# The custom actions of each ModelAdmin, with the object they are run on.
ADMIN_ACTIONS = {
    ("reviewqueue.queue", "resume_breaker"): "{a_pk}",
    ("reviewqueue.source", "create_key"): "{source_pk}",
    ("reviewqueue.apikey", "revoke"): "{spare_key_pk}",
    ("reviewqueue.personaltoken", "revoke"): "{rev_token_pk}",
    ("reviewqueue.execution", "retry"): "{dead}",
}


def _staff_only(admin_status: Expected) -> tuple[Expected, ...]:
    return (ALOGIN,) * (len(PERSONAS) - 1) + (admin_status,)


def admin_rows() -> list[Row]:
    rows = [
        R(GET, "/admin/", *_staff_only(200)),
        R(GET, "/admin/reviewqueue/", *_staff_only(200)),
        R(GET, "/admin/login/", 200, 200, 200, 200, 200, 200, 200, GO),
        # Django's admin sends anyone but staff from its logout to its index (then to sign-in).
        R(GET, "/admin/logout/", *(TO_ADMIN,) * 7, 405),
        R(POST, "/admin/logout/", *(TO_ADMIN,) * 7, LOGIN),
        R(GET, "/admin/password_change/", *_staff_only(200)),
        R(GET, "/admin/password_change/done/", *_staff_only(200)),
        R(GET, "/admin/autocomplete/", *_staff_only(403), note="without its parameters"),
        R(GET, "/admin/jsi18n/", *_staff_only(200)),
        R(GET, "/admin/r/{queue_ct}/{a_pk}/", *_staff_only(404), note="no view_on_site"),
        R(GET, "/admin/no-such-page/", *_staff_only(404)),
        R(GET, "/admin/reviewqueue/user/{rev_pk}/password/", *_staff_only(200)),
    ]
    for label, kind in ADMIN_MODELS.items():
        base = "/admin/" + label.replace(".", "/")
        obj = base + "/{" + label.split(".")[1] + "_obj}"
        writable = 200 if kind == EDITABLE else 403
        rows += [
            R(GET, base + "/", *_staff_only(200)),
            R(GET, base + "/add/", *_staff_only(writable)),
            R(GET, obj + "/change/", *_staff_only(200)),
            R(GET, obj + "/history/", *_staff_only(200)),
            R(GET, obj + "/delete/", *_staff_only(writable)),
            R(GET, obj + "/", *_staff_only(GO), note="redirects to the change page"),
        ]
    for (label, action), pk in ADMIN_ACTIONS.items():
        rows.append(
            R(
                POST,
                "/admin/" + label.replace(".", "/") + "/",
                # A new key is shown once on a page of its own, never after a redirect.
                *_staff_only(200 if action == "create_key" else GO),
                data={"action": action, "_selected_action": [pk]},
                note=f"action {action}",
            )
        )
    return rows


ROWS += admin_rows()


# --- The world ----------------------------------------------------------------------------------


def _add(source, external_id: str, **overrides: Any) -> Recommendation:
    body = item(external_id=external_id, rationale=f"{external_id} rationale", **overrides)
    rec, _ = recommendation_ingest(source=source, data=body)
    return rec


def build_world() -> tuple[dict[str, Any], dict[str, User], dict[str, str]]:
    """(ids for the paths, people, credentials per persona)."""
    action_type = ActionTypeFactory()
    a = QueueFactory(slug="refunds", name="Refunds", action_types=[action_type])
    b = QueueFactory(slug="other", name="Other", action_types=[action_type])
    source = SourceFactory(name="refund-bot", queues=[a])
    other_source = SourceFactory(name="other-bot", queues=[b])
    keys = {"src": make_key(source), "srcB": make_key(other_source)}
    spare_key = make_key(source)
    p = make_people(a)  # the shared personas; the outsider is no member of any queue here
    people = {
        "out": p.outsider,
        "rev": p.reviewer,
        "sen": p.senior,
        "aud": p.auditor,
        "adm": p.admin,
    }

    # Decided (and its execution dead), then held by the reviewer, then one waiting: claims
    # take the highest priority first, so each claim below takes the item meant for it.
    decided = _add(source, f"{CANARY}-decided", priority=30)
    assert recommendation_claim(user=people["sen"], queue=a) == decided
    recommendation_decide(user=people["sen"], recommendation_id=decided.pk, outcome="approve")
    Execution.objects.filter(recommendation=decided).update(status="dead", last_error="HTTP 400")
    held = _add(source, f"{CANARY}-held", priority=20)
    assert recommendation_claim(user=people["rev"], queue=a) == held
    pending = _add(source, f"{CANARY}-pending")
    sampled = _add(source, f"{CANARY}-sampled", priority=-5)
    Recommendation.objects.filter(pk=sampled.pk).update(
        route="auto", status="auto_approved", qa_sampled=True
    )
    shadow = _add(source, f"{CANARY}-shadow", priority=-5)
    Recommendation.objects.filter(pk=shadow.pk).update(route="shadow", status="shadow")
    b_item = _add(other_source, "b-item", queue="other")

    execution = Execution.objects.get(recommendation=decided)
    incident = incident_record(
        queue=a, user=people["adm"], severity="high", summary="matrix incident"
    )
    spare_key_pk = ApiKey.objects.get(prefix=spare_key.split("_")[1]).pk  # revoked by a row
    rev_token, _ = personal_token_create(user=people["rev"], actor=Actor.system("test"))  # too
    view = SavedView.objects.create(user=people["rev"], queue=a, name="rev's view", query="")
    ids = {
        "a": a.slug,
        "a_pk": a.pk,
        "source_pk": source.pk,
        "spare_key_pk": spare_key_pk,
        "pending": pending.pk,
        "held": held.pk,
        "decided": decided.pk,
        "sampled": sampled.pk,
        "shadow": shadow.pk,
        "b_item": b_item.pk,
        "dead": execution.pk,
        "incident": incident.pk,
        "view": view.pk,
        "rev_pk": people["rev"].pk,
        "queue_ct": ContentType.objects.get_for_model(Queue).pk,
        # one object per admin model
        "group_obj": Group.objects.create(name="matrix").pk,
        "user_obj": people["rev"].pk,
        "queue_obj": a.pk,
        "actiontype_obj": action_type.pk,
        "source_obj": source.pk,
        "apikey_obj": spare_key_pk,
        "personaltoken_obj": rev_token.pk,
        "rev_token_pk": rev_token.pk,
        "recommendation_obj": pending.pk,
        "decision_obj": Decision.objects.get(recommendation=decided).pk,
        "execution_obj": execution.pk,
        "auditevent_obj": AuditEvent.objects.earliest("id").pk,
        "notification_obj": Notification.objects.create(
            channel="chat", event="breaker", recipient_key="chat", dedupe_key="m", subject="s"
        ).pk,
    }
    tokens = {
        p: personal_token_create(user=u, actor=Actor.system("test"))[1] for p, u in people.items()
    }
    return ids, people, {**keys, **tokens}


class _FakeIds(dict[str, Any]):
    """Stand-ins for the world's ids, enough to resolve a row's path without a database."""

    def __missing__(self, key: str) -> Any:
        uuids = {"pending", "held", "decided", "sampled", "shadow", "b_item"}
        return uuid.UUID(int=1) if key in uuids else 1


FAKE_IDS = _FakeIds(a="refunds")


# --- Running a cell -------------------------------------------------------------------------------


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    """`value` with the world's ids in place of {placeholders} in its strings."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _matches(expected: Expected, response: HttpResponse) -> bool:
    if isinstance(expected, Redirect):
        if response.status_code != expected.status:
            return False
        location = response["Location"].split("?")[0]
        if expected.to is not None:
            return location == expected.to
        return location not in ("/login/", "/admin/login/")
    if isinstance(expected, Batch):
        if response.status_code != 200:
            return False
        return [r["status"] for r in response.json()["results"]] == [expected.status]
    return response.status_code == expected


def _text(response: HttpResponse) -> str:
    if isinstance(response, StreamingHttpResponse):
        return ""  # the export, for readers only; not read here
    return response.content.decode(errors="replace")


def _api_error(row: Row, response: HttpResponse) -> bool:
    # The schema and docs are drf-spectacular's own views, outside our error handling.
    docs = row.path.startswith(("/api/v1/schema/", "/api/v1/docs/"))
    return row.api and not docs and response.status_code >= 400


def _shown(response: HttpResponse) -> str:
    where = f" → {response['Location']}" if response.status_code in (302, 303) else ""
    exc = getattr(response, "exc_info", None)
    return f"{response.status_code}{where}{f' ({exc[1]!r})' if exc else ''}"


class TestPermissionsMatrix(TestCase):
    ids: dict[str, Any]
    people: dict[str, User]
    secrets: dict[str, str]

    @classmethod
    def setUpTestData(cls) -> None:
        cls.ids, cls.people, cls.secrets = build_world()

    def setUp(self) -> None:
        self.sessions: dict[str, SimpleCookie] = {}
        for persona in PEOPLE:
            client = Client()
            client.force_login(self.people[persona])
            self.sessions[persona] = client.cookies

    def client_for(self, persona: str, row: Row) -> Client:
        client = Client(raise_request_exception=False)
        if persona in ("src", "srcB"):
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {self.secrets[persona]}"
        elif persona in PEOPLE and row.api:
            client.defaults["HTTP_AUTHORIZATION"] = f"Token {self.secrets[persona]}"
        elif persona in PEOPLE:
            client.cookies = copy.deepcopy(self.sessions[persona])
        return client

    def ask(self, persona: str, row: Row) -> HttpResponse:
        client = self.client_for(persona, row)
        path = row.path.format(**self.ids)
        data = _fill(row.data, self.ids)
        extra = {**(HX if row.htmx else {}), **row.extra}
        if row.method == GET:
            return client.get(path, **extra)
        if row.api:
            body = json.dumps(data) if data is not None else ""
            return client.post(path, data=body, content_type="application/json", **extra)
        return client.post(path, data=data or {}, **extra)

    def check_row(self, row: Row) -> None:
        wrong = []
        for persona, expected in zip(PERSONAS, row.expect, strict=True):
            with transaction.atomic(), override_settings(**row.settings):
                response = self.ask(persona, row)
                transaction.set_rollback(True)  # every cell starts from the same world
            if not _matches(expected, response):
                wrong.append(f"  {persona:5} expected {expected!r:>12}, got {_shown(response)}")
                continue
            if persona in MUST_NOT_SEE_A and CANARY in _text(response):
                wrong.append(f"  {persona:5} sees queue A's items ({CANARY})")
            if _api_error(row, response) and response["Content-Type"] != PROBLEM:
                wrong.append(f"  {persona:5} error is {response['Content-Type']}")
        assert not wrong, f"{row.label}{' — ' + row.note if row.note else ''}\n" + "\n".join(wrong)


def _make_test(row: Row) -> Callable[[TestPermissionsMatrix], None]:
    def test(self: TestPermissionsMatrix) -> None:
        self.check_row(row)

    return test


def _test_name(index: int, row: Row) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in row.path.strip("/"))
    return f"test_{index:03d}_{row.method}_{slug}{'_htmx' if row.htmx else ''}"


for _i, _row in enumerate(ROWS):
    setattr(TestPermissionsMatrix, _test_name(_i, _row), _make_test(_row))


# --- Every URL has a row --------------------------------------------------------------------------

# Routes without a row, and why.
ALLOWED_WITHOUT_ROW: dict[str, str] = {}


def _routes(patterns: list[Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            found |= _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            # ResolverMatch.route drops a regex's leading ^ (admin's app_list)
            found.add(prefix + str(p.pattern).removeprefix("^"))
    return found


def test_every_url_has_a_row():
    served = _routes(get_resolver().url_patterns)
    covered = {resolve(row.path.format_map(FAKE_IDS).split("?")[0]).route for row in ROWS}
    assert covered <= served  # every row reaches the route it is meant for
    missing = served - covered - set(ALLOWED_WITHOUT_ROW)
    assert not missing, "URLs without a row in the permissions matrix: " + ", ".join(
        sorted(missing)
    )


def test_every_admin_model_and_action_has_rows():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(ADMIN_MODELS)
    actions = {
        (model._meta.label_lower, name)
        for model, model_admin in admin.site._registry.items()
        for name in (model_admin.actions or [])
    }
    assert actions == set(ADMIN_ACTIONS)


def test_every_csv_section_has_a_row():
    assert set(CSV_EXPECT) == set(CSV_SECTIONS)
