"""Web security: the Content Security Policy with per-response nonces, CSRF on every form
and htmx request, and the production switch (DJANGO_HTTPS) that makes cookies Secure, turns
on HSTS and leaves `manage.py check --deploy` clean."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_PASSWORD, item
from tests.factories import member

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["/queues/", "/queues/refunds/review/", "/reports/", "/admin/", "/executions/dead/"]
SIGNED_OUT_PAGES = ["/login/", "/admin/login/"]


def csp_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.fixture
def admin_client(client, world, people):
    member(people.admin, world.queue)  # an admin who also reviews
    client.force_login(people.admin)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES + SIGNED_OUT_PAGES)
def test_every_page_is_served_with_a_strict_policy(admin_client, client, path):
    if path in SIGNED_OUT_PAGES:
        admin_client.logout()
    response = admin_client.get(path)
    assert response.status_code == 200, path
    policy = csp_of(response)
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    # No inline script or style may sit in our pages without the response's nonce.
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script in " + path
    assert " style=" not in html and "<style" not in html, "inline style in " + path


@pytest.mark.django_db
def test_our_scripts_carry_this_responses_nonce_and_it_changes(admin_client):
    nonces = []
    for _ in range(2):
        response = admin_client.get("/queues/")
        nonce = next(s for s in csp_of(response)["script-src"] if s.startswith("'nonce-"))
        value = nonce.removeprefix("'nonce-").removesuffix("'")
        scripts = re.findall(r"<script[^>]*>", response.content.decode())
        assert scripts and all(f'nonce="{value}"' in tag for tag in scripts)
        nonces.append(value)
    assert nonces[0] != nonces[1]


@pytest.mark.django_db
def test_htmx_eval_and_injected_styles_are_switched_off(admin_client):
    html = admin_client.get("/queues/").content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', html)
    assert config is not None
    assert '"allowEval": false' in config.group(1)
    assert '"includeIndicatorStyles": false' in config.group(1)


@pytest.mark.django_db
def test_only_the_api_docs_page_allows_inline_styles_for_swagger(admin_client):
    response = admin_client.get("/api/v1/docs/")
    assert response.status_code == 200
    policy = csp_of(response)
    assert "'unsafe-inline'" in policy["style-src"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.content.decode())


@pytest.mark.django_db
def test_forms_and_htmx_posts_without_the_csrf_token_are_refused(world, people):
    from django.test import Client

    from reviewqueue.services.ingest import recommendation_ingest

    reviewer = people.reviewer
    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="csrf-1"))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reviewer)
    page = browser.get("/queues/refunds/review/")
    assert page.status_code == 200
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page.content.decode()).group(1)
    claimed = browser.post("/queues/refunds/review/claim", HTTP_X_CSRFTOKEN=token)
    assert claimed.status_code == 303
    url = f"/queues/refunds/review/{rec.pk}/decide"

    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        refused = browser.post(url, {"outcome": "approve"}, **headers)
        assert refused.status_code == 403
    rec.refresh_from_db()
    assert rec.status == "in_review"  # nothing was decided

    accepted = browser.post(
        url, {"outcome": "approve"}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 200
    rec.refresh_from_db()
    assert rec.status == "decided"


@pytest.mark.django_db
def test_the_claim_button_needs_its_csrf_token(world, people):
    from django.test import Client

    from reviewqueue.services.ingest import recommendation_ingest

    reviewer = people.reviewer
    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="csrf-claim"))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reviewer)
    html = browser.get("/queues/refunds/review/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        refused = browser.post("/queues/refunds/review/claim", **headers)
        assert refused.status_code == 403
    rec.refresh_from_db()
    assert rec.status == "pending" and rec.claimed_by is None
    # The form's own hidden field, as a browser without JavaScript sends it.
    accepted = browser.post("/queues/refunds/review/claim", {"csrfmiddlewaretoken": token})
    assert accepted.status_code == 303
    rec.refresh_from_db()
    assert rec.claimed_by == reviewer


@pytest.mark.django_db
def test_the_login_form_needs_its_csrf_token(world, people):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        "/login/", {"username": people.reviewer.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session


def _run(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_BROKER_URL"))
    }
    full_env.update({"REVIEWQUEUE_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, *code.split()]
        if code.startswith("manage.py")
        else [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_HTTPS": "true",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_ALLOWED_HOSTS": "review.example.com",
    # Django 6.1's deploy check refuses the console mail backend (the default, for the demo).
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    result = _run("manage.py check --deploy --fail-level WARNING", PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_the_production_switch(tmp_path):
    """The demo default (plain HTTP) is knowingly not a production set-up, and says so."""
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_HTTPS"}
    result = _run("manage.py check --deploy --fail-level WARNING", env, tmp_path)
    assert result.returncode != 0
    assert "SESSION_COOKIE_SECURE" in result.stderr + result.stdout


PROBE = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.test import Client
c = Client()
plain = c.get("/login/", HTTP_HOST="review.example.com")
health = c.get("/healthz", HTTP_HOST="review.example.com")
secure = c.get("/login/", secure=True, HTTP_HOST="review.example.com")
print(plain.status_code, plain.headers.get("Location"))
print(health.status_code)
print(secure.status_code, secure.headers.get("Strict-Transport-Security"))
print(secure.cookies["csrftoken"]["secure"], secure.cookies["csrftoken"]["httponly"])
"""


def test_production_switch_redirects_to_https_sets_hsts_and_secure_cookies(tmp_path):
    result = _run(PROBE, PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    plain, health, secure, cookie = result.stdout.strip().splitlines()[-4:]
    assert plain == "301 https://review.example.com/login/"
    assert health == "200"  # load balancers probe over plain HTTP
    assert secure.startswith("200 max-age=31536000; includeSubDomains")
    assert cookie == "True True"
