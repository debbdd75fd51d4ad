"""A NUL character in a query parameter, a form field, a JSON string or the session cookie is
a 400 naming the field, on every URL the project serves, never a 500 (PostgreSQL's text
refuses NUL); a body over Django's DATA_UPLOAD_MAX_MEMORY_SIZE is a 413. The API answers
problem+json, pages a plain 400 page.

The walk reuses the permissions matrix's rows: `test_every_url_has_a_row` there keeps them
covering every URL pattern, and `test_the_walk_covers_every_url_pattern` here checks it again.
Each row is asked by the persona for whom it works (a 2xx or a redirect that is not a sign-in
page), so without the NUL the request would reach the view.
"""

import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, TestCase
from django.urls import get_resolver, resolve

from reviewqueue.models import Recommendation
from reviewqueue.web.badinput import NUL_IN_NAME, NUL_IN_VALUE
from tests.conftest import World, item
from tests.web.test_permissions_matrix import (
    FAKE_IDS,
    GET,
    GO,
    HX,
    PEOPLE,
    PERSONAS,
    PROBLEM,
    ROWS,
    Batch,
    Row,
    _fill,
    _routes,
    build_world,
)

NUL = "\x00"


def _persona(row: Row) -> str:
    """The first persona for whom the row works; the admin when it works for nobody."""
    for persona, expected in zip(PERSONAS, row.expect, strict=True):
        if expected == GO or isinstance(expected, Batch) or expected in (200, 201):
            return persona
    return "adm"


def _with_query(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


def _first_string(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The place of the first string leaf of a JSON document, depth first."""
    if isinstance(value, str):
        return path
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item_ in items:
        if (found := _first_string(item_, (*path, key))) is not None:
            return found
    return None


def _with_nul_at(value: Any, place: tuple[Any, ...]) -> Any:
    if not place:
        return f"a{NUL}b"
    head, *rest = place
    copied = dict(value) if isinstance(value, dict) else list(value)
    copied[head] = _with_nul_at(value[head], tuple(rest))
    return copied


class TestNulOnEveryUrl(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.ids, cls.people, cls.secrets = build_world()

    def client_for(self, persona: str, row: Row) -> Client:
        client = Client(raise_request_exception=False)
        if persona in ("src", "srcB"):
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {self.secrets[persona]}"
        elif persona in PEOPLE and row.api:
            client.defaults["HTTP_AUTHORIZATION"] = f"Token {self.secrets[persona]}"
        elif persona in PEOPLE:
            client.force_login(self.people[persona])
        return client

    def send(self, row: Row, *, query: str = "", data: Any = None, **extra: Any):
        client = self.client_for(_persona(row), row)
        path = row.path.format(**self.ids)
        path = _with_query(path, query) if query else path
        extra = {**(HX if row.htmx else {}), **row.extra, **extra}
        with transaction.atomic():
            if row.method == GET:
                response = client.get(path, **extra)
            elif row.api:
                body = json.dumps(data) if data is not None else ""
                response = client.post(path, data=body, content_type="application/json", **extra)
            else:
                response = client.post(path, data=data or {}, **extra)
            transaction.set_rollback(True)  # every request starts from the same world
        return response

    def refused(self, row: Row, what: str, response, errors: dict[str, str] | None) -> list[str]:
        """What is wrong with the answer to a request carrying a NUL ([] when nothing)."""
        got = f"{response.status_code} {response['Content-Type']}"
        if response.status_code != 400:
            exc = getattr(response, "exc_info", None)
            return [f"{row.label} {what}: {got}{f' ({exc[1]!r})' if exc else ''}"]
        if row.api:
            if response["Content-Type"] != PROBLEM:
                return [f"{row.label} {what}: {got}"]
            body = response.json()
            if errors is not None and body.get("errors") != errors:
                return [f"{row.label} {what}: errors {body.get('errors')}, expected {errors}"]
            return []
        html = response.content.decode()
        missing = [name for name in errors or {} if name not in html]
        if not response["Content-Type"].startswith("text/html") or missing:
            return [f"{row.label} {what}: {got}, fields not named: {missing}"]
        return []

    def test_a_nul_anywhere_is_a_400_on_every_url(self):
        wrong: list[str] = []
        for row in ROWS:
            data = _fill(row.data, self.ids)
            response = self.send(row, query="queue=refunds%00", data=data)
            wrong += self.refused(row, "query value", response, {"queue": NUL_IN_VALUE})
            response = self.send(row, query="x%00y=1", data=data)
            wrong += self.refused(row, "query name", response, {"x\\u0000y": NUL_IN_NAME})
            # The session cookie spelled with the octal escape a real client can send.
            cookie = 'sessionid="abcdefgh\\000ijkl"'
            response = self.send(row, data=data, HTTP_COOKIE=cookie)
            wrong += self.refused(row, "cookie", response, {"cookie.sessionid": NUL_IN_VALUE})
            if row.method == GET:
                continue
            if row.api:
                # A JSON string: refused by the API's parser, with its place in the body.
                place = _first_string(data)
                if place is None:
                    # The view reads no body (claim, release): a NUL there reaches nothing;
                    # it must still never be a 500.
                    response = self.send(row, data={"comment": f"a{NUL}b"})
                    if response.status_code >= 500:
                        wrong.append(f"{row.label} JSON: {response.status_code}")
                    continue
                response = self.send(row, data=_with_nul_at(data, place))
                where = ".".join(str(p) for p in place)
                wrong += self.refused(row, "JSON string", response, {where: NUL_IN_VALUE})
            else:
                form = dict(data or {})
                name = next((k for k, v in form.items() if isinstance(v, str)), "comment")
                form[name] = f"a{NUL}b"
                response = self.send(row, data=form)
                wrong += self.refused(row, "form field", response, {name: NUL_IN_VALUE})
        assert not wrong, "\n".join(wrong)


def test_the_walk_covers_every_url_pattern():
    served = _routes(get_resolver().url_patterns)
    walked = {resolve(row.path.format_map(FAKE_IDS).split("?")[0]).route for row in ROWS}
    assert walked == served


def test_the_400_page_names_the_field_and_reads_no_session(client, db):
    response = client.get("/queues/?queue=a%00b", HTTP_COOKIE='sessionid="abcdefgh\\000ijkl"')
    assert response.status_code == 400
    html = response.content.decode()
    assert "Validation failed" in html and "<code>queue</code>" in html
    assert "<code>cookie.sessionid</code>" in html and NUL not in html


def test_the_api_answer_is_the_problem_shape_of_every_validation_error(world: World):
    response = world.client().get("/api/v1/recommendations?queue=refunds%00&external_id=%00")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json() == {
        "type": "urn:reviewqueue:problem:validation_error",
        "title": "Validation failed",
        "status": 400,
        "detail": "The request is not valid.",
        "errors": {"queue": NUL_IN_VALUE, "external_id": NUL_IN_VALUE},
    }


@pytest.mark.parametrize(
    "field, body, where",
    [
        ("rationale", item(rationale=f"a{NUL}b"), "rationale"),
        (
            "payload value",
            item(action={"type": "refund.issue", "payload": {"order_id": f"A{NUL}", "amount": 1}}),
            "action.payload.order_id",
        ),
        ("metadata value", item(metadata={"tier": f"g{NUL}"}), "metadata.tier"),
    ],
)
def test_a_nul_in_an_ingested_string_is_a_400_and_nothing_is_stored(world, field, body, where):
    response = world.client().post("/api/v1/recommendations", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {where: NUL_IN_VALUE}
    assert not Recommendation.objects.exists()


# --- Bodies over Django's limit -------------------------------------------------------------------

OVER = 1024  # bytes over the limit; the test shrinks the limit rather than send 16 MiB


@pytest.mark.parametrize(
    "path", ["/api/v1/recommendations", "/api/v1/recommendations/batch", "/api/v1/queues/x/claim"]
)
def test_an_api_body_over_the_upload_limit_is_413_problem_json(world, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    body = json.dumps({"items": [item(rationale="x" * (64 * 1024 + OVER))]})
    response = Client(raise_request_exception=False).post(
        path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {world.key}"
    )
    assert response.status_code == 413, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"] == "urn:reviewqueue:problem:payload_too_large"
    assert response.json()["detail"] == "The request body is over the limit of 65536 bytes."


def test_a_batch_over_the_real_16_mib_limit_is_413_not_500(world):
    body = b'{"items": [' + b" " * (16 * 1024 * 1024) + b"]}"
    response = Client(raise_request_exception=False).post(
        "/api/v1/recommendations/batch",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world.key}",
    )
    assert response.status_code == 413
    assert response.json()["type"] == "urn:reviewqueue:problem:payload_too_large"


@pytest.mark.parametrize("content_type", ["urlencoded", "multipart"])
def test_a_form_over_the_upload_limit_is_a_413_page(client, db, settings, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    fields = {"username": "x" * (64 * 1024 + OVER), "password": "p"}
    if content_type == "urlencoded":
        response = client.post(
            "/login/",
            "&".join(f"{k}={v}" for k, v in fields.items()),
            content_type="application/x-www-form-urlencoded",
        )
    else:
        response = client.post("/login/", fields)  # the test client's default is multipart
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "Request body too large" in response.content.decode()


def test_too_many_form_fields_is_a_400_naming_the_form(client, db, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    response = client.post("/login/", {f"f{i}": "1" for i in range(20)})
    assert response.status_code == 400
    assert "<code>form</code>" in response.content.decode()


def test_too_many_query_parameters_on_the_api_is_problem_json(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"f{i}=1" for i in range(20))
    response = world.client().get(f"/api/v1/recommendations?{query}")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert response.json()["errors"] == {"query": "More than 10 fields."}
