"""The configuration file (apply_config's TOML, product.md's fixed format) described once, as
JSON Schema (Draft 2020-12). It is

- the validator's first half: services/config_check.py runs it on a file and on each table
  the admin builds from its form, then adds the rules a schema cannot say (references
  between sections, outbound URLs, signing keys, payload schemas on RE2);
- where the defaults live: the models' field defaults (models/config.py) and a key a file
  leaves out (config_apply, through the models) come from `default`;
- the reference: `python manage.py config_reference` writes docs/configuration.md and
  docs/configuration.schema.json from it.

Annotations of ours (ignored by other JSON Schema tools):
- `x-field`: the model field a key is stored in (TOML key -> field maps: `fields`);
- `x-messages`: the problem's wording by failed keyword (`*`: any), a `str.format`
  template with `value`, `minimum`, `maximum`, `pattern`, `enum`, `item`, `length`;
- `x-items`: an array's wording when one of its items is of the wrong kind (the problem
  names the array, not the item);
- `x-unknown`: the wording for a key the table does not know (`known`: its keys).

The `anomaly` and `readiness` tables are built from the rule modules that apply them
(services/flags.py, services/readiness.py), on first use: those import the models, which
import this module for their defaults.
"""

import copy
from functools import cache
from typing import Any

from reviewqueue.states import MemberRole, Stage

DIALECT = "https://json-schema.org/draft/2020-12/schema"

UNIT = "must be a number from 0 to 1, got {value!r}"
POSITIVE = "must be a positive integer, got {value!r}"
BOOLEAN = "must be true or false, got {value!r}"
TEXT = "must be a non-empty string"
STRINGS = "must be a list of non-empty strings"
TABLE = "must be a table"
NAMED = "'{value}' is not allowed here (pattern {pattern})"
SLUG = r"^[a-z0-9][a-z0-9_-]{0,99}$"
ACTION_NAME = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
ENV_NAME = r"^([A-Za-z_][A-Za-z0-9_]*)?$"
# Undo never outlasts the reports' settling time (reporting/buckets.CLOSED_AFTER, 5 minutes),
# so a remembered closed bucket never counts a decision that is then undone.
UNDO_MAX_SECONDS = 300
# Consensus: how many different reviewers decide an item (services/consensus.py).
REVIEWERS_MAX = 3
# A queue's guidelines are read on every review page: a page of rules, not a manual.
GUIDELINES_MAX = 65_536
REASON_LABEL_MAX = 100
REASON_DESCRIPTION_MAX = 1000


def _unit(description: str, default: float | None = None, field: str = "") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
    return _annotated(node, description, default, field, {"*": UNIT})


def _positive(description: str, default: int | None = None, field: str = "") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "integer", "minimum": 1}
    return _annotated(node, description, default, field, {"*": POSITIVE})


def _boolean(description: str, default: bool, field: str = "") -> dict[str, Any]:
    return _annotated({"type": "boolean"}, description, default, field, {"*": BOOLEAN})


def _text(description: str, field: str = "", pattern: str = r"\S") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": pattern}
    messages = {"*": TEXT} if pattern == r"\S" else {"*": TEXT, "pattern": NAMED}
    return _annotated(node, description, None, field, messages)


def _strings(description: str, field: str = "", default: bool = True) -> dict[str, Any]:
    """A list of distinct non-empty strings (a problem with one names the list)."""
    node: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "uniqueItems": True,
    }
    messages = {"*": STRINGS, "uniqueItems": "'{item}' is listed twice"}
    return {
        **_annotated(node, description, [] if default else None, field, messages),
        "x-items": STRINGS,
    }


REASONS = "must be a list of reason codes: non-empty strings or tables { code, label, description }"


def _reason_codes() -> dict[str, Any]:
    """Reason codes: each a string (the code is its own label) or a table with a label and a
    description for the review page; mixed freely. Duplicate codes are a rule of
    services/config_check.py (a string and a table may name the same code)."""
    table = _table(
        "A reason with words for the review page.",
        {
            "code": _text("What the API, the decision rows and the exports carry."),
            "label": _annotated(
                {"type": "string", "minLength": 1, "maxLength": REASON_LABEL_MAX, "pattern": r"\S"},
                "What the review page shows (default: the code).",
                None,
                "",
                {"*": f"must be a non-empty string of at most {REASON_LABEL_MAX} characters"},
            ),
            "description": _annotated(
                {"type": "string", "maxLength": REASON_DESCRIPTION_MAX},
                "A hint shown beside the label.",
                None,
                "",
                {"*": f"must be a string of at most {REASON_DESCRIPTION_MAX} characters"},
            ),
        },
        required=("code",),
        message="must be a string or a table {{ code, label, description }}",
    )
    # if/then/else rather than oneOf: a table's own problems keep their paths
    # (`reason_codes.0.code: is required`), not one vague "matches none".
    item = {"if": {"type": "string"}, "then": {"minLength": 1}, "else": table}
    node: dict[str, Any] = {"type": "array", "items": item}
    return {
        **_annotated(
            node,
            "The reasons a reviewer chooses from (required to reject or modify): codes, or "
            "tables `{ code, label, description }` whose label the review page shows (keys "
            "1-9 pick the first nine); strings and tables may be mixed.",
            [],
            "reason_codes",
            {"*": REASONS.replace("{", "{{").replace("}", "}}")},  # a str.format template
        ),
        "x-items": REASONS,
    }


def _annotated(
    node: dict[str, Any],
    description: str,
    default: Any,
    field: str,
    messages: dict[str, str],
) -> dict[str, Any]:
    node = {**node, "description": description, "x-messages": messages}
    if default is not None:
        node["default"] = default
    if field:
        node["x-field"] = field
    return node


def _table(
    description: str,
    properties: dict[str, Any],
    *,
    required: tuple[str, ...] = (),
    field: str = "",
    message: str = TABLE,
    unknown: str = "unknown key (expected one of {known})",
) -> dict[str, Any]:
    # Unknown and missing keys first, as they are reported first.
    node: dict[str, Any] = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
        "x-messages": {"*": message},
        "x-unknown": unknown,
    }
    if not required:
        del node["required"]
    if field:
        node["x-field"] = field
    return node


def _enum(
    description: str, what: str, values: list[str], default: str, field: str = ""
) -> dict[str, Any]:
    message = f"unknown {what} {{value!r}} (expected one of {{enum}})"
    return _annotated({"enum": values}, description, default, field, {"*": message})


ACTION_TYPE = _table(
    "A kind of action (`refund.issue`): the payload it carries and how it is carried out.",
    {
        "name": _text(
            "Its name, unique; the key of the table (it cannot be renamed later).",
            pattern=ACTION_NAME,
        ),
        "executor": {
            **_annotated(
                {"type": "string"},
                "What carries out an approved action: `webhook` (a signed POST to `url`), "
                "`noop` (nothing; an agent acts itself once decided), or a name in the "
                "`REVIEWQUEUE_EXECUTORS` setting.",
                "noop",
                "executor",
                {
                    "*": "unknown executor {value!r} (expected a name: webhook, noop or one in REVIEWQUEUE_EXECUTORS)"
                },
            ),
        },
        "url": _annotated(
            {"type": "string", "format": "uri"},
            "Where the `webhook` executor posts (required for it): an http:// or https:// "
            "URL that is public or allowed by `REVIEWQUEUE_OUTBOUND_ALLOWLIST`.",
            None,
            "url",
            {"*": "must be an http:// or https:// URL, got {value!r}"},
        ),
        "signing_secret_env": _annotated(
            {"type": "string", "pattern": ENV_NAME},
            "The environment variable that holds the HMAC signing key (required for the "
            "`webhook` executor: every request is signed). It must be set and non-empty "
            "where the config is applied and in the workers, and must not be one of the "
            "application's own secrets.",
            None,
            "signing_secret_env",
            {
                "type": "must be a string, got {value!r}",
                "pattern": "must be an environment variable name, got {value!r}",
            },
        ),
        "payload_schema": _annotated(
            {"type": "object"},
            "The JSON Schema every payload must match (Draft 2020-12 unless it says "
            "otherwise). Its `pattern`s run on RE2, a linear-time engine: no "
            "backreferences or lookaround.",
            None,
            "payload_schema",
            {"*": "must be a table (a JSON Schema object)"},
        ),
        "cosmetic_fields": _strings(
            "Payload fields whose edits count as cosmetic modifications (each a property "
            "of `payload_schema`; `a.b` names a field inside property `a`).",
            "cosmetic_fields",
        ),
        "always_review": _boolean(
            "Every item of this type waits for a person, whatever the queue's stage.",
            False,
            "always_review",
        ),
        "timeout_seconds": _annotated(
            {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
            "How long one attempt may take, in seconds (above 0, at most 300).",
            10.0,
            "timeout_seconds",
            {"*": "must be a number of seconds from 0 to 300, got {value!r}"},
        ),
        "max_attempts": _positive(
            "How many times an execution is tried before it is dead.", 8, "max_attempts"
        ),
    },
    required=("name", "payload_schema"),
)

ROUTING = _table(
    "Thresholds of the supervised and autonomous stages: an item with risk at most "
    "`auto_max_risk` and confidence at least `auto_min_confidence` executes without review "
    "(a `qa_sample_rate` share of those is reviewed afterwards), risk at least "
    "`escalate_min_risk` goes to senior reviewers, anything else to review.",
    {
        "auto_max_risk": _unit(
            "Highest risk that may execute without review.", 0.3, "auto_max_risk"
        ),
        "auto_min_confidence": _unit(
            "Lowest confidence that may execute without review.", 0.95, "auto_min_confidence"
        ),
        "escalate_min_risk": _unit(
            "Risk from which an item is escalated to senior reviewers.", 0.7, "escalate_min_risk"
        ),
        "qa_sample_rate": _unit(
            "Share of auto-executed items sampled into QA review.", 0.05, "qa_sample_rate"
        ),
        "hard_risk_ceiling": _unit(
            "Anomaly flag `risk_ceiling`: risk at or above it is escalated whatever the "
            "stage's thresholds say. Absent: no ceiling.",
            field="hard_risk_ceiling",
        ),
        "hard_confidence_floor": _unit(
            "Anomaly flag `confidence_floor`: confidence below it waits for a person. "
            "Absent: no floor.",
            field="hard_confidence_floor",
        ),
    },
)

BREAKER = _table(
    "The circuit breaker: when more than a rate of the last `window` auto-executed items "
    "failed (or were rejected by QA), auto-execution stops until an admin resumes it.",
    {
        "window": _positive(
            "How many recent auto-executed items are counted.", 50, "breaker_window"
        ),
        "max_failure_rate": _unit(
            "Highest execution failure rate over the window.", 0.2, "breaker_max_failure_rate"
        ),
        "max_qa_rejection_rate": _unit(
            "Highest QA rejection rate over the window.", 0.1, "breaker_max_qa_rejection_rate"
        ),
    },
)

# Filled in by `file_schema` from services/flags.py and services/readiness.py.
ANOMALY_STUB = {"x-field": "anomaly", "default": {}}
READINESS_STUB = {"x-field": "readiness", "default": {}}

QUEUE = _table(
    "A stream of work for one team: its stage, routing thresholds, SLA, reason codes.",
    {
        "slug": _text(
            "Its short name in URLs and the API, unique; the key of the table.", pattern=SLUG
        ),
        "name": _text("Its name as people read it.", "name"),
        "stage": _enum(
            "The starting stage. Once the queue exists, its stage moves only in the app "
            "(audited with the readiness evidence) or by its breaker: re-applying a file "
            "never moves it (apply_config says so in a note).",
            "stage",
            [s.value for s in Stage],
            Stage.APPROVAL.value,
            "stage",
        ),
        "action_types": _strings(
            "The action types items of this queue may carry (names of `[[action_types]]` "
            "in this file or already applied).",
            default=False,
        ),
        "reason_codes": _reason_codes(),
        "guidelines": _annotated(
            {"type": "string", "maxLength": GUIDELINES_MAX},
            "What reviewers of this queue should know, in Markdown (CommonMark with tables), "
            "shown on the review page in a panel they can collapse. Raw HTML is not rendered "
            "and only http:// and https:// links are kept. At most "
            f"{GUIDELINES_MAX} characters.",
            "",
            "guidelines",
            {
                "type": "must be a string of Markdown",
                "maxLength": "is too long: {length} characters of Markdown, at most {maximum}",
            },
        ),
        "sla_minutes": _positive(
            "Minutes an item may wait before it is flagged overdue. Absent: no SLA.",
            field="sla_minutes",
        ),
        "sla_escalate": _boolean(
            "Overdue items are escalated to senior reviewers.", False, "sla_escalate"
        ),
        "sla_warning_minutes": _annotated(
            {"type": "integer", "minimum": 0},
            "Minutes before an item's SLA ends when the people who could take it (those who "
            "chose SLA warnings on /settings/) and the chat webhook are warned, once per item. "
            "0 or absent: no warning.",
            None,
            "sla_warning_minutes",
            {"*": "must be a whole number of minutes, 0 or more, got {value!r}"},
        ),
        "chat": _boolean(
            "The chat webhook (`REVIEWQUEUE_CHAT_WEBHOOK_URL`) gets this queue's events: "
            "escalations, SLA warnings, breaker trips, readiness. false: none of them.",
            True,
            "chat",
        ),
        "lease_minutes": _positive(
            "How long a claim holds an item before it returns to the queue.", 10, "lease_minutes"
        ),
        "undo_seconds": _annotated(
            {"type": "integer", "minimum": 0, "maximum": UNDO_MAX_SECONDS},
            "How long the person who decided may take it back: the decision's execution and "
            "its `decision.made` callback wait until then. 0 turns undo off.",
            10,
            "undo_seconds",
            {"*": "must be a whole number from {minimum} to {maximum}, got {value!r}"},
        ),
        "reviewers_per_item": _annotated(
            {"type": "integer", "minimum": 1, "maximum": REVIEWERS_MAX},
            "How many different reviewers decide each item (consensus). Above 1, each "
            "reviewer's decision is a vote and the item waits for the others; when all agree "
            "(same outcome, for modify the same final payload) the decision is final and "
            "executes, when they disagree the item escalates to senior reviewers, whose "
            "decision is final. An item keeps the value its queue had when it arrived.",
            1,
            "reviewers_per_item",
            {"*": "must be a whole number from {minimum} to {maximum}, got {value!r}"},
        ),
        "bulk_max_risk": _unit(
            "Bulk decisions (approve or reject many items at once) refuse an item whose risk "
            "score is above this; such items are decided one by one.",
            0.3,
            "bulk_max_risk",
        ),
        "blind_review": _boolean(
            "Shadow items are also reviewed in the app without seeing the AI's proposal.",
            False,
            "blind_review",
        ),
        "routing": ROUTING,
        "max_per_5min": _positive(
            "Anomaly flag `volume`: more items than this from one source in 5 minutes wait "
            "for a person. Absent: no volume flag.",
            field="max_per_5min",
        ),
        "anomaly": ANOMALY_STUB,
        "breaker": BREAKER,
        "readiness": READINESS_STUB,
    },
    required=("slug", "name", "action_types"),
)

SOURCE = _table(
    "An AI system allowed to post into some queues (its API keys come from "
    "`manage.py create_api_key`).",
    {
        "name": _text("Its name, unique; the key of the table.", pattern=SLUG),
        "queues": _strings(
            "The queues it may post into (slugs of `[[queues]]` in this file or already "
            "applied); exactly these after applying."
        ),
        "callback_url": _annotated(
            {"type": "string", "format": "uri"},
            "Where signed `decision.made`, `execution.succeeded` and `execution.dead` "
            "events are posted: an http:// or https:// URL that is public or allowed by "
            "`REVIEWQUEUE_OUTBOUND_ALLOWLIST`. Absent: no callbacks.",
            None,
            "callback_url",
            {"*": "must be an http:// or https:// URL, got {value!r}"},
        ),
        "signing_secret_env": {
            **ACTION_TYPE["properties"]["signing_secret_env"],
            "description": "The environment variable that holds the HMAC key callbacks are "
            "signed with (required with a `callback_url`); the same rules as an action "
            "type's.",
        },
        "active": _boolean("It may post (false: its keys are refused).", True, "is_active"),
    },
    required=("name",),
)

MEMBER = _table(
    "Who reviews a queue. The user must exist first (`manage.py create_user`) and may not "
    "be an auditor.",
    {
        "user": _text("The username."),
        "queues": _strings("The queues this person joins (slugs).", default=False),
        "role": _enum(
            "`senior` also sees escalated items.",
            "role",
            [r.value for r in MemberRole],
            MemberRole.REVIEWER.value,
            "role",
        ),
    },
    required=("user", "queues"),
)

TABLES = {
    "action_types": ACTION_TYPE,
    "queues": QUEUE,
    "sources": SOURCE,
    "members": MEMBER,
}


def default(section: str, key: str) -> Any:
    """The default of `key` (dotted inside the table: `routing.auto_max_risk`) of a table
    of `section` (`queues`); KeyError when it has none."""
    node = TABLES[section]
    for part in key.split("."):
        node = node["properties"][part]
    return copy.deepcopy(node["default"])


def model_default(section: str, key: str) -> Any:
    """`default` as a model field's `default=`: an empty list or table as `list` or `dict`
    (a field's default must not be a shared mutable value)."""
    value = default(section, key)
    if value == [] or value == {}:
        return type(value)
    return value


def fields(section: str) -> dict[str, str]:
    """TOML key (dotted inside the table) -> model field, for the keys stored in a column
    (`x-field`). Keys not listed are links (a queue's action types) or the table's key."""
    out: dict[str, str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, child in node.get("properties", {}).items():
            if "x-field" in child:
                out[prefix + key] = child["x-field"]
            elif child.get("type") == "object":
                walk(child, f"{prefix}{key}.")

    walk(TABLES[section], "")
    return out


def _anomaly() -> dict[str, Any]:
    from reviewqueue.domain.flags import (
        ANOMALY_DEFAULT_WINDOW,
        ANOMALY_DEFAULT_Z,
        ANOMALY_MAX_WINDOW,
    )

    window = f"must be a whole number of items from 10 to {ANOMALY_MAX_WINDOW}, got {{value!r}}"
    node = _table(
        "Anomaly flag `outlier` (supervised and autonomous stages): an item whose field is "
        "more than `z` standard deviations from the mean of that action type's last "
        "`window` items in the queue waits for a person. `{}` (the default): no outlier "
        "flags; otherwise `fields` is required.",
        {
            "fields": {
                **_strings(
                    "Numeric top-level properties of one of the queue's action types' "
                    "`payload_schema`.",
                    default=False,
                ),
                "minItems": 1,
            },
            "z": _annotated(
                {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                "How many standard deviations from the mean make an outlier.",
                ANOMALY_DEFAULT_Z,
                "",
                {"*": "must be a number above 0 and at most 100, got {value!r}"},
            ),
            "window": _annotated(
                {"type": "integer", "minimum": 10, "maximum": ANOMALY_MAX_WINDOW},
                "How many recent items the mean and deviation are taken over.",
                ANOMALY_DEFAULT_WINDOW,
                "",
                {"*": window},
            ),
        },
        message='must be a table, e.g. {{ fields = ["amount"], z = 4.0 }}',
    )
    node["properties"]["fields"]["x-messages"]["minItems"] = "must name at least one payload field"
    node["if"] = {"minProperties": 1}
    node["then"] = {"required": ["fields"]}
    return {**node, **ANOMALY_STUB}


_READINESS_WORDS = {
    "shadow_min_agreement": "shadow → approval: lowest AI/human agreement",
    "shadow_window": "shadow → approval: how many recent compared items",
    "approval_min_rate": "approval → supervised: lowest approval rate on each day",
    "approval_days": "approval → supervised: how many full days",
    "approval_min_cosmetic_share": "approval → supervised: lowest share of cosmetic modifications",
    "supervised_max_error_rate": "supervised → autonomous: highest auto-execution error rate",
    "supervised_days": "supervised → autonomous: how many full days",
}


def _readiness() -> dict[str, Any]:
    from reviewqueue.domain.readiness import COUNT_RANGES, DEFAULTS

    gates: dict[str, Any] = {}
    for key, value in DEFAULTS.items():
        words = _READINESS_WORDS.get(key, key)
        if key in COUNT_RANGES:
            low, high = COUNT_RANGES[key]
            gates[key] = _annotated(
                {"type": "integer", "minimum": low, "maximum": high},
                f"{words}.",
                value,
                "",
                {"*": "must be a whole number from {minimum} to {maximum}, got {value!r}"},
            )
        else:
            gates[key] = _unit(f"{words}.", value)
    node = _table(
        "Overrides of the readiness gates' thresholds (the stages table of the product "
        "spec); a gate left out keeps its default.",
        gates,
        unknown="unknown gate setting (expected one of {known})",
    )
    return {**node, **READINESS_STUB}


@cache
def file_schema() -> dict[str, Any]:
    """The whole file's schema: each section an array of its tables (`$defs`)."""
    queue = copy.deepcopy(QUEUE)
    queue["properties"]["anomaly"] = _anomaly()
    queue["properties"]["readiness"] = _readiness()
    tables = {**TABLES, "queues": queue}
    names = {
        "action_types": "action_type",
        "queues": "queue",
        "sources": "source",
        "members": "member",
    }
    sections = {}
    for section, table in tables.items():
        whole = f"must be an array of tables ([[{section}]])"
        sections[section] = {
            "type": "array",
            "description": table["description"],
            "items": {"$ref": f"#/$defs/{names[section]}"},
            "x-messages": {"*": whole},
            "x-items": whole,
        }
    return {
        "$schema": DIALECT,
        "title": "Review Queue configuration (reviewqueue.toml)",
        "description": "What `manage.py apply_config` reads. Generated from "
        "reviewqueue/config_schema.py.",
        "type": "object",
        "additionalProperties": False,
        "properties": sections,
        "x-unknown": "unknown section (expected {known})",
        "$defs": {names[s]: copy.deepcopy(t) for s, t in tables.items()},
    }


def table_schema(section: str) -> dict[str, Any]:
    """The schema of one table of `section` (what the admin's forms are judged by)."""
    found: dict[str, Any] = file_schema()["$defs"][section.removesuffix("s")]
    return found
