"""Pure logic: signatures, the outbound policy, diffs, routing boundaries."""

import pytest

from reviewqueue.domain.routing import route_for
from reviewqueue.lib import signing
from reviewqueue.lib.diff import is_cosmetic, json_diff
from reviewqueue.lib.outbound import OutboundRefused, check_url
from reviewqueue.models import ActionType, Queue


class TestSigning:
    def test_a_signature_verifies_and_binds_body_and_time(self):
        header = signing.sign("s3cret", b'{"a":1}', timestamp=1_700_000_000)
        assert header.startswith("t=1700000000,v1=")
        assert signing.verify("s3cret", b'{"a":1}', header, now=1_700_000_010)
        assert not signing.verify("s3cret", b'{"a":2}', header, now=1_700_000_010)
        assert not signing.verify("other", b'{"a":1}', header, now=1_700_000_010)
        assert not signing.verify("s3cret", b'{"a":1}', header, now=1_700_001_000)  # too old
        assert not signing.verify("s3cret", b'{"a":1}', "garbage")

    def test_the_digest_is_hmac_sha256_of_t_dot_body(self):
        import hashlib
        import hmac

        expected = hmac.new(b"k", b"5.body", hashlib.sha256).hexdigest()
        assert signing.sign("k", b"body", timestamp=5) == f"t=5,v1={expected}"


class TestOutbound:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/x",
            "http://10.1.2.3/",
            "http://192.168.0.9/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://localhost:8000/",
            "ftp://example.com/",
            "http://0.0.0.0/",
        ],
    )
    def test_non_public_targets_are_refused(self, url):
        with pytest.raises(OutboundRefused):
            check_url(url, [])

    def test_the_allowlist_admits_hosts_and_cidrs(self):
        check_url("http://127.0.0.1:9100/a", ["127.0.0.1:9100"])
        check_url("http://10.1.2.3/", ["10.0.0.0/8"])
        check_url("http://localhost:8000/", ["localhost:8000"])
        with pytest.raises(OutboundRefused):  # without a port: 80 and 443 only
            check_url("http://127.0.0.1:9100/a", ["127.0.0.1"])
        with pytest.raises(OutboundRefused):
            check_url("http://10.1.2.3/", ["10.9.0.0/16"])

    def test_public_addresses_pass(self):
        check_url("https://93.184.215.14/hook", [])


class TestDiff:
    def test_leaf_changes_with_dotted_paths(self):
        old = {"amount": 40, "address": {"city": "Leeds", "line1": "1 St"}, "note": "x"}
        new = {"amount": 35, "address": {"city": "York", "line1": "1 St"}, "tags": ["a"]}
        assert json_diff(old, new) == [
            {"path": "address.city", "op": "replace", "old": "Leeds", "new": "York"},
            {"path": "amount", "op": "replace", "old": 40, "new": 35},
            {"path": "note", "op": "remove", "old": "x", "new": None},
            {"path": "tags", "op": "add", "old": None, "new": ["a"]},
        ]

    def test_equal_numbers_of_different_types_are_no_change(self):
        assert json_diff({"a": 40}, {"a": 40.0}) == []
        assert json_diff({"a": True}, {"a": 1}) != []

    def test_cosmetic_only_when_every_change_is_in_a_cosmetic_field(self):
        changes = json_diff(
            {"note": "a", "address": {"line2": ""}}, {"note": "b", "address": {"line2": "Flat 2"}}
        )
        assert is_cosmetic(changes, ["note", "address.line2"])
        assert is_cosmetic(changes, ["note", "address"])
        assert not is_cosmetic(changes, ["note"])
        assert not is_cosmetic([], ["note"])


def _queue(stage, **kw):
    return Queue(
        slug="q",
        stage=stage,
        auto_max_risk=0.3,
        auto_min_confidence=0.95,
        escalate_min_risk=0.7,
        **kw,
    )


@pytest.mark.parametrize(
    ("risk", "confidence", "route"),
    [
        (0.2999, 0.95, "auto"),  # both sides inside the auto box
        (0.3, 0.99, "review"),  # risk at auto_max_risk is not auto (strict <)
        (0.1, 0.9499, "review"),  # confidence just below the floor
        (0.6999, 0.99, "review"),
        (0.7, 0.99, "escalated"),  # risk at escalate_min_risk escalates (>=)
        (1.0, 0.0, "escalated"),
    ],
)
def test_supervised_routing_on_both_sides_of_each_threshold(risk, confidence, route):
    assert (
        route_for(
            queue=_queue("supervised"), action_type=ActionType(), confidence=confidence, risk=risk
        )
        == route
    )


def test_always_review_action_types_never_auto_execute():
    always = ActionType(always_review=True)
    assert (
        route_for(queue=_queue("supervised"), action_type=always, confidence=1, risk=0) == "review"
    )
    assert (
        route_for(queue=_queue("autonomous"), action_type=always, confidence=1, risk=0) == "review"
    )


def test_autonomous_sends_items_above_the_hard_ceiling_to_people():
    queue = _queue("autonomous", hard_risk_ceiling=0.9)
    assert route_for(queue=queue, action_type=ActionType(), confidence=0.1, risk=0.89) == "auto"
    assert route_for(queue=queue, action_type=ActionType(), confidence=0.9, risk=0.9) == "escalated"


class TestFastValidator:
    def test_draft_2020_only_keywords_stay_on_jsonschema(self):
        from reviewqueue.lib.schema import FastValidator

        tuple_schema = {"type": "array", "prefixItems": [{"type": "string"}]}
        assert FastValidator(tuple_schema).fast is None
        assert FastValidator(tuple_schema).errors([1]) == {"0": "Must be of type string."}
        assert FastValidator({"dependentRequired": {"a": ["b"]}}).fast is None
        assert FastValidator({"type": "number", "exclusiveMinimum": True}).fast is None

    @pytest.mark.parametrize(
        "value",
        [
            {"order_id": "A", "amount": 1},
            {"order_id": "A", "amount": -1},
            {"order_id": 1, "amount": 1},
            {"amount": 1},
            {"order_id": "A", "amount": 1, "extra": True},
            {"order_id": "A", "amount": 1, "note": 5},
            [],
            "x",
        ],
    )
    def test_fast_and_slow_paths_agree(self, value):
        from reviewqueue.lib.schema import FastValidator, errors_by_path, validator_for

        schema = {
            "type": "object",
            "required": ["order_id", "amount"],
            "additionalProperties": False,
            "properties": {
                "order_id": {"type": "string", "minLength": 1},
                "amount": {"type": "number", "minimum": 0},
                "note": {"type": "string", "format": "email"},
            },
        }
        fast = FastValidator(schema)
        assert fast.fast is not None
        assert fast.errors(value) == errors_by_path(validator_for(schema), value)


def test_behind_a_proxy_the_client_is_the_last_forwarded_address():
    from django.test import RequestFactory

    from reviewqueue.lib.client_ip import forwarded_client_ip

    rf = RequestFactory()
    spoofed = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.2")
    assert forwarded_client_ip(spoofed) == "203.0.113.9"
    assert forwarded_client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
