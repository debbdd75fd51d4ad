"""Sign-in throttling: failed attempts per username and per client address, on the app's
/login/ and the admin's sign-in, counted in PostgreSQL (services/ratelimit.py) so every
process shares one budget; invalid API keys and tokens per address on the API."""

import json
import math
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from reviewqueue.models import RateLimitWindow
from reviewqueue.services.audit import Actor
from reviewqueue.services.tokens import personal_token_create
from tests.api.test_abuse_limits import counters_unreachable, limiter_warnings  # noqa: F401 (fixture)
from tests.conftest import TEST_PASSWORD, item
from tests.factories import UserFactory

WRONG = "not the password"


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def tight(settings):
    settings.REVIEWQUEUE_LOGIN_RATE_USER = "3/5m"
    settings.REVIEWQUEUE_LOGIN_RATE_IP = "6/5m"
    return settings


def sign_in(client, username, password, url="/login/", ip="127.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in_as(client) -> str | None:
    response = client.get("/queues/")
    if response.status_code != 200:
        return None
    return re.search(r'class="who-name">([^<]+)<', response.content.decode()).group(1)


def assert_throttled(response):
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 300
    minutes = math.ceil(wait / 60)
    text = response.content.decode()
    assert f"Too many sign-in attempts; try again in {minutes} minute" in text
    assert 'name="password"' not in text  # no form to keep guessing with


def test_a_wrong_password_shows_the_form_again(client, bob, tight):
    response = sign_in(client, "bob", WRONG)
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert signed_in_as(client) is None


def test_after_the_users_failures_even_the_right_password_is_refused(client, bob, tight):
    for _ in range(3):
        assert sign_in(client, "bob", WRONG).status_code == 200
    assert_throttled(sign_in(client, "bob", TEST_PASSWORD))
    assert signed_in_as(client) is None
    # The page itself still opens; only attempts are refused.
    assert client.get("/login/").status_code == 200


def test_only_failures_count(client, bob, tight):
    for _ in range(5):
        assert sign_in(client, "bob", TEST_PASSWORD).status_code == 302
        client.post("/logout/")
    for _ in range(2):
        assert sign_in(client, "bob", WRONG).status_code == 200
    assert sign_in(client, "bob", TEST_PASSWORD).status_code == 302
    assert signed_in_as(client) == "bob"


def test_the_username_budget_ignores_case_and_spaces(client, bob, tight):
    for name in ("BOB", " Bob", "bob"):
        sign_in(client, name, WRONG, ip=f"10.0.0.{len(name)}")
    assert_throttled(sign_in(client, "bob", TEST_PASSWORD, ip="10.0.9.9"))


def test_one_throttled_username_leaves_the_others_alone(client, bob, tight):
    UserFactory(username="carol")
    for _ in range(3):
        sign_in(client, "bob", WRONG)
    assert sign_in(client, "carol", TEST_PASSWORD).status_code == 302
    assert signed_in_as(client) == "carol"


def test_one_address_guessing_many_usernames_is_throttled(client, bob, tight):
    for n in range(6):
        assert sign_in(client, f"guess{n}", WRONG, ip="203.0.113.7").status_code == 200
    assert_throttled(sign_in(client, "bob", TEST_PASSWORD, ip="203.0.113.7"))
    assert sign_in(client, "bob", TEST_PASSWORD, ip="198.51.100.1").status_code == 302


def test_the_window_ends_and_sign_in_works_again(client, bob, tight):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(3):
            sign_in(client, "bob", WRONG)
        refused = sign_in(client, "bob", TEST_PASSWORD)
        assert_throttled(refused)
        traveller.shift(timedelta(seconds=int(refused["Retry-After"]) + 1))
        assert sign_in(client, "bob", TEST_PASSWORD).status_code == 302
    assert signed_in_as(client) == "bob"


def test_the_default_limits_are_ten_per_user_and_fifty_per_address(client, bob):
    for _ in range(10):
        assert sign_in(client, "bob", WRONG).status_code == 200
    assert_throttled(sign_in(client, "bob", TEST_PASSWORD))
    for n in range(39):  # 10 + 39 = 49 failures from this address
        assert sign_in(client, f"guess{n}", WRONG).status_code == 200
    carol = UserFactory(username="carol")
    assert sign_in(client, "guess-last", WRONG).status_code == 200  # the 50th
    assert_throttled(sign_in(client, carol.username, TEST_PASSWORD))


def test_a_long_or_odd_username_still_gets_a_budget_of_its_own(client, bob, tight):
    long_name = "b" * 5000
    for _ in range(3):
        assert sign_in(client, long_name, WRONG, ip=f"10.1.0.{_}").status_code == 200
    assert_throttled(sign_in(client, long_name, TEST_PASSWORD, ip="10.1.0.9"))
    assert sign_in(client, "b" * 4999, WRONG, ip="10.1.0.9").status_code == 200


def test_ipv6_clients_count_per_64(client, bob, tight):
    for n in range(6):
        assert sign_in(client, f"guess{n}", WRONG, ip=f"2001:db8:1:2::{n + 1}").status_code == 200
    assert_throttled(sign_in(client, "bob", TEST_PASSWORD, ip="2001:db8:1:2:ffff::9"))
    assert sign_in(client, "bob", TEST_PASSWORD, ip="2001:db8:1:3::1").status_code == 302


def test_behind_the_proxy_the_address_it_appended_is_counted(client, bob, tight, settings):
    settings.REVIEWQUEUE_CLIENT_IP = "reviewqueue.lib.client_ip.forwarded_client_ip"

    def via_proxy(username, password, forwarded):
        return client.post(
            "/login/",
            {"username": username, "password": password},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for n in range(6):  # what the client sends itself comes first and changes nothing
        assert via_proxy(f"guess{n}", WRONG, f"6.6.6.{n}, 203.0.113.7").status_code == 200
    assert_throttled(via_proxy("bob", TEST_PASSWORD, "203.0.113.7"))
    assert via_proxy("bob", TEST_PASSWORD, "198.51.100.1").status_code == 302


def test_sign_in_stays_open_when_the_counters_cannot_be_reached(
    client,
    bob,
    tight,
    counters_unreachable,  # noqa: F811
    caplog,
):
    codes = [sign_in(client, "bob", WRONG).status_code for _ in range(5)]
    assert codes == [200] * 5
    assert sign_in(client, "bob", TEST_PASSWORD).status_code == 302
    assert signed_in_as(client) == "bob"
    assert len(limiter_warnings(caplog)) == 1  # one line, not one per attempt


def test_the_counters_are_rows_every_process_reads(client, bob, tight):
    """Shared by construction: the counters live in PostgreSQL, not in a process. (Two
    gunicorn processes sharing one budget: tests/tasks/test_redis_outage.py.)"""
    for _ in range(2):
        sign_in(client, "Bob", WRONG, ip="192.0.2.5")
    rows = dict(RateLimitWindow.objects.values_list("key", "count"))
    assert rows == {"login-user:bob": 2, "login-ip:192.0.2.5": 2}


class TestAdminSignIn:
    def test_the_admin_signs_in_through_its_own_form(self, client, people, tight):
        response = sign_in(
            client, people.admin.username, TEST_PASSWORD, url="/admin/login/?next=/admin/"
        )
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200

    def test_failures_on_the_admin_form_are_throttled(self, client, people, tight):
        for _ in range(3):
            response = sign_in(client, people.admin.username, WRONG, url="/admin/login/")
            assert response.status_code == 200
            assert "Please enter the correct username and password" in response.content.decode()
        assert_throttled(sign_in(client, people.admin.username, TEST_PASSWORD, url="/admin/login/"))
        assert client.get("/admin/").status_code == 302

    def test_both_forms_share_one_budget_per_username(self, client, people, tight):
        sign_in(client, people.admin.username, WRONG, url="/admin/login/")
        sign_in(client, people.admin.username, WRONG)
        sign_in(client, people.admin.username, WRONG, url="/admin/login/")
        assert_throttled(sign_in(client, people.admin.username, TEST_PASSWORD))


class TestApiCredentials:
    """Invalid keys and tokens count against the address; valid ones never do."""

    def claim(self, client, token, ip="127.0.0.1"):
        return client.post(
            "/api/v1/queues/refunds/claim",
            HTTP_AUTHORIZATION=f"Token {token}",
            REMOTE_ADDR=ip,
        )

    def test_invalid_tokens_turn_from_401_to_429_with_retry_after(
        self, client, world, people, tight
    ):
        _, token = personal_token_create(user=people.reviewer, actor=Actor.system("test"))
        forged = token.rsplit("_", 1)[0] + "_" + "A" * 43
        codes = [self.claim(client, forged).status_code for _ in range(7)]
        assert codes == [401] * 6 + [429]
        refused = self.claim(client, forged)
        assert refused.status_code == 429
        assert refused["Content-Type"] == "application/problem+json"
        assert refused.json()["status"] == 429 and "invalid" in refused.json()["detail"]
        assert 1 <= int(refused["Retry-After"]) <= 300
        # A valid token from the same address is not held back (keys cannot be guessed;
        # refusing them would let anyone behind one proxy lock out everyone else).
        assert self.claim(client, token).status_code == 204
        assert self.claim(client, forged, ip="198.51.100.1").status_code == 401

    def test_invalid_api_keys_on_ingest_count_too(self, client, world, tight):
        def post(key):
            return client.post(
                "/api/v1/recommendations",
                data=json.dumps(item()),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {key}",
            )

        codes = [post("rq_abcdefabcdef_nope").status_code for _ in range(7)]
        assert codes == [401] * 6 + [429]
        assert post(world.key).status_code == 201
