"""The configuration is described once (reviewqueue/config_schema.py): it validates, carries
the defaults the models take, and generates docs/configuration.md."""

import io
import tomllib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from jsonschema import Draft202012Validator

from reviewqueue import config_schema
from reviewqueue.models import ActionType, Membership, Queue, Source
from reviewqueue.services import config_check

MODELS = {"action_types": ActionType, "queues": Queue, "sources": Source}
ACTION = {"name": "refund.issue", "payload_schema": {"type": "object"}}
QUEUE = {"slug": "refunds", "name": "Refunds", "action_types": ["refund.issue"]}
REASONS = "must be a list of reason codes: non-empty strings or tables { code, label, description }"


def test_the_committed_reference_is_the_one_the_schema_generates():
    """Fails when the schema changed and `python manage.py config_reference` was not run."""
    call_command("config_reference", "--check", stdout=io.StringIO())


def test_config_reference_writes_what_check_then_accepts(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    (tmp_path / "docs").mkdir()
    with pytest.raises(CommandError, match=r"docs/configuration\.md"):
        call_command("config_reference", "--check", stdout=io.StringIO())
    call_command("config_reference", stdout=io.StringIO())
    call_command("config_reference", "--check", stdout=io.StringIO())
    assert (
        "| `routing.auto_max_risk` | number from 0 to 1 | 0.3 |"
        in (tmp_path / "docs/configuration.md").read_text()
    )


def test_the_schema_is_valid_draft_2020_12_and_accepts_the_demo_and_spec_files():
    schema = config_schema.file_schema()
    Draft202012Validator.check_schema(schema)
    demo = Path(django_settings.BASE_DIR) / "demo/reviewqueue.toml"
    data = tomllib.loads(demo.read_text())
    assert list(Draft202012Validator(schema).iter_errors(data)) == []


@pytest.mark.parametrize("section", sorted(MODELS))
def test_every_column_takes_its_default_from_the_schema(section):
    model = MODELS[section]
    for key, name in config_schema.fields(section).items():
        column = model._meta.get_field(name)
        try:
            expected = config_schema.default(section, key)
        except KeyError:
            expected = None  # no default: the column's empty value
        got = column.get_default()
        assert got == expected or (expected is None and got in (None, "", {})), (key, got)


def test_a_membership_takes_its_role_default_from_the_schema():
    assert Membership._meta.get_field("role").get_default() == config_schema.default(
        "members", "role"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"lease_minutes": 10.0}, ("lease_minutes", "must be a positive integer, got 10.0")),
        (
            {"routing": {"auto_max_risk": 2}},
            ("routing.auto_max_risk", "must be a number from 0 to 1, got 2"),
        ),
        ({"routing": 1}, ("routing", "must be a table")),
        ({"sla_escalate": "yes"}, ("sla_escalate", "must be true or false, got 'yes'")),
        ({"name": ""}, ("name", "must be a non-empty string")),
        (
            {"readiness": {"approval_days": 400}},
            ("readiness.approval_days", "must be a whole number from 1 to 366, got 400"),
        ),
        (
            {"breaker": {"windw": 5}},
            (
                "breaker.windw",
                "unknown key (expected one of max_failure_rate, max_qa_rejection_rate, window)",
            ),
        ),
        ({"reason_codes": ["a", 1]}, ("reason_codes", REASONS)),
        ({"reason_codes": ["a", ""]}, ("reason_codes", REASONS)),
        ({"reason_codes": [{"label": "A"}]}, ("reason_codes.0.code", "is required")),
        (
            {"reason_codes": ["a", {"code": "b", "colour": "red"}]},
            ("reason_codes.1.colour", "unknown key (expected one of code, description, label)"),
        ),
        (
            {"reason_codes": [{"code": "b", "label": ""}]},
            ("reason_codes.0.label", "must be a non-empty string of at most 100 characters"),
        ),
        (
            {"reason_codes": ["a", {"code": "a", "label": "A"}]},
            ("reason_codes", "'a' is listed twice"),
        ),
        (
            {"guidelines": "x" * 65_537},
            ("guidelines", "is too long: 65537 characters of Markdown, at most 65536"),
        ),
        ({"guidelines": ["x"]}, ("guidelines", "must be a string of Markdown")),
        ({"reason_codes": ["a", "a"]}, ("reason_codes", "'a' is listed twice")),
        ({"anomaly": {"fields": []}}, ("anomaly.fields", "must name at least one payload field")),
    ],
)
def test_a_queue_problem_names_its_key_path_once(changes, expected):
    found = config_check.queue_problems({**QUEUE, **changes}, action_schemas={"refund.issue": {}})
    assert found == [expected]


@pytest.mark.parametrize(
    "reason_codes",
    [
        ["wrong_amount", "other"],
        [{"code": "wrong_amount", "label": "Wrong amount", "description": "Not what was paid."}],
        [{"code": "wrong_amount"}, "other", {"code": "dup", "label": "Duplicate"}],
    ],
)
def test_reason_codes_may_be_strings_tables_or_both(reason_codes):
    found = config_check.queue_problems(
        {**QUEUE, "reason_codes": reason_codes, "guidelines": "## Rules\n" + "x" * 60_000},
        action_schemas={"refund.issue": {}},
    )
    assert found == []


def test_guidelines_over_the_limit_are_named_by_their_key_path_in_a_file():
    found = config_check.file_problems(
        {"queues": [{**QUEUE, "guidelines": "x" * 1_048_576}]},
        known_action_schemas={"refund.issue": {}},
        known_queue_slugs=set(),
        user_roles={},
    )
    assert found == [
        "queues[0].guidelines: is too long: 1048576 characters of Markdown, at most 65536"
    ]


def test_a_listed_twice_name_is_still_checked_against_the_known_ones():
    found = config_check.queue_problems(
        {**QUEUE, "action_types": ["nope", "nope"]}, action_schemas={"refund.issue": {}}
    )
    assert found == [
        ("action_types", "'nope' is listed twice"),
        ("action_types", "unknown action type 'nope'"),
    ]


@pytest.mark.parametrize("executor", [[], {}, 5])
def test_an_executor_of_the_wrong_kind_is_a_problem_not_a_crash(executor):
    found = config_check.action_type_problems({**ACTION, "executor": executor})
    assert found == [
        (
            "executor",
            f"unknown executor {executor!r} (expected a name: webhook, noop or one in "
            "REVIEWQUEUE_EXECUTORS)",
        )
    ]


def test_a_deployments_executor_is_known(settings):
    settings.REVIEWQUEUE_EXECUTORS = {"crm": "myco.crm.execute"}
    assert config_check.action_type_problems({**ACTION, "executor": "crm"}) == []
    found = config_check.action_type_problems({**ACTION, "executor": "cmr"})
    assert found == [("executor", "unknown executor 'cmr' (expected one of crm, noop, webhook)")]


def test_file_problems_name_the_table_by_its_index():
    found = config_check.file_problems(
        {"queues": [QUEUE, {**QUEUE, "slug": "b", "lease_minutes": 0}], "colour": 1},
        known_action_schemas={"refund.issue": {}},
        known_queue_slugs=set(),
        user_roles={},
    )
    assert found == [
        "colour: unknown section (expected action_types, members, queues, sources)",
        "queues[1].lease_minutes: must be a positive integer, got 0",
    ]


@pytest.mark.parametrize("value", [0, 4, 2.5, "2"])
def test_reviewers_per_item_outside_1_to_3_is_refused(value):
    found = config_check.file_problems(
        {"queues": [{**QUEUE, "reviewers_per_item": value}]},
        known_action_schemas={"refund.issue": {}},
        known_queue_slugs=set(),
        user_roles={},
    )
    assert found == [
        f"queues[0].reviewers_per_item: must be a whole number from 1 to 3, got {value!r}"
    ]
    ok = {"queues": [{**QUEUE, "reviewers_per_item": 3}]}
    assert (
        config_check.file_problems(
            ok, known_action_schemas={"refund.issue": {}}, known_queue_slugs=set(), user_roles={}
        )
        == []
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"queues": 5}, "queues: must be an array of tables ([[queues]])"),
        ({"queues": [5]}, "queues: must be an array of tables ([[queues]])"),
        ({"members": [{"queues": []}]}, "members[0].user: is required"),
        (
            {"action_types": [{**ACTION, "timeout_seconds": 0}]},
            "action_types[0].timeout_seconds: must be a number of seconds from 0 to 300, got 0",
        ),
    ],
)
def test_file_problems_name_sections_and_tables(data, expected):
    found = config_check.file_problems(
        data, known_action_schemas={}, known_queue_slugs=set(), user_roles={}
    )
    assert found == [expected]
