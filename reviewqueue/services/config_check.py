"""What valid configuration is: the one validator for apply_config's TOML and the admin's
forms. Both describe an object as its TOML table (the admin builds the table from the
form's values, `*_table`), so both hear the same rules in the same words; a problem's path
inside the table maps back to the model field (`field_of`) for the admin's field errors.

The database refuses what must never be stored (windows below 1, rates outside [0, 1];
models/config.py), so a path that skips this check still cannot store a queue the worker
would divide by zero on.
"""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from reviewqueue import access
from reviewqueue.domain.flags import ANOMALY_MAX_WINDOW
from reviewqueue.domain.readiness import DEFAULTS as READINESS_DEFAULTS
from reviewqueue.domain.readiness import readiness_config
from reviewqueue.lib import signing
from reviewqueue.lib.outbound import OutboundRefused, check_url
from reviewqueue.lib.schema import schema_problem
from reviewqueue.states import MemberRole, Stage

# (path inside the object's TOML table, message)
Problem = tuple[str, str]

# TOML key (dotted inside the table) -> model field. Keys not listed are links (a queue's
# action types, a source's queues) or the natural key.
QUEUE_FIELDS = {
    "name": "name",
    "stage": "stage",
    "reason_codes": "reason_codes",
    "sla_minutes": "sla_minutes",
    "sla_escalate": "sla_escalate",
    "lease_minutes": "lease_minutes",
    "blind_review": "blind_review",
    "routing.auto_max_risk": "auto_max_risk",
    "routing.auto_min_confidence": "auto_min_confidence",
    "routing.escalate_min_risk": "escalate_min_risk",
    "routing.qa_sample_rate": "qa_sample_rate",
    "routing.hard_risk_ceiling": "hard_risk_ceiling",
    "routing.hard_confidence_floor": "hard_confidence_floor",
    "max_per_5min": "max_per_5min",
    "anomaly": "anomaly",
    "breaker.window": "breaker_window",
    "breaker.max_failure_rate": "breaker_max_failure_rate",
    "breaker.max_qa_rejection_rate": "breaker_max_qa_rejection_rate",
    "readiness": "readiness",
}
ACTION_TYPE_FIELDS = {
    key: key
    for key in (
        "executor",
        "url",
        "signing_secret_env",
        "payload_schema",
        "cosmetic_fields",
        "always_review",
        "timeout_seconds",
        "max_attempts",
    )
}
SOURCE_FIELDS = {
    "callback_url": "callback_url",
    "signing_secret_env": "signing_secret_env",
    "active": "is_active",
}
_SECTIONS = {"action_types", "queues", "sources", "members"}
_ACTION_KEYS = {"name", *ACTION_TYPE_FIELDS}
_QUEUE_KEYS = {"slug", "action_types", "routing", "breaker"} | {
    k for k in QUEUE_FIELDS if "." not in k
}
_ROUTING_KEYS = {k.split(".")[1] for k in QUEUE_FIELDS if k.startswith("routing.")}
_BREAKER_KEYS = {k.split(".")[1] for k in QUEUE_FIELDS if k.startswith("breaker.")}
_SOURCE_KEYS = {"name", "queues", *SOURCE_FIELDS}
_MEMBER_KEYS = {"user", "queues", "role"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_ACTION_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BUILTIN_EXECUTORS = {"webhook", "noop"}


def signing_secret_problem(env_name: str) -> str | None:
    """Why `env_name` cannot name the HMAC signing key, or None: lib/signing.py's run-time
    rule (unset, empty, an application secret), asked at apply time too, in the process
    that applies the config (the web process for the admin); workers ask it again before
    every send."""
    if env_name and not _ENV_NAME.match(env_name):
        return f"must be an environment variable name, got {env_name!r}"
    return signing.signing_secret_problem(env_name)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def keys(
        self, where: str, table: Mapping[str, Any], allowed: set[str], required: set[str]
    ) -> None:
        prefix = f"{where}." if where else ""
        for key in sorted(set(table) - allowed):
            self.add(
                f"{prefix}{key}", f"unknown key (expected one of {', '.join(sorted(allowed))})"
            )
        for key in sorted(required - set(table)):
            self.add(f"{prefix}{key}", "is required")

    def string(self, where: str, value: Any, *, pattern: re.Pattern[str] | None = None) -> bool:
        if not isinstance(value, str) or not value.strip():
            self.add(where, "must be a non-empty string")
            return False
        if pattern is not None and not pattern.match(value):
            self.add(where, f"'{value}' is not allowed here (pattern {pattern.pattern})")
            return False
        return True

    def unit(self, where: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            self.add(where, f"must be a number from 0 to 1, got {value!r}")

    def positive_int(self, where: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.add(where, f"must be a positive integer, got {value!r}")

    def boolean(self, where: str, value: Any) -> None:
        if not isinstance(value, bool):
            self.add(where, f"must be true or false, got {value!r}")

    def string_list(self, where: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.add(where, "must be a list of non-empty strings")
            return []
        seen: set[str] = set()
        for item in value:
            if item in seen:
                self.add(where, f"'{item}' is listed twice")
            seen.add(item)
        return list(value)

    def url(self, where: str, value: Any) -> None:
        if (
            not isinstance(value, str)
            or urlsplit(value).scheme not in ("http", "https")
            or not urlsplit(value).hostname
        ):
            self.add(where, f"must be an http:// or https:// URL, got {value!r}")
            return
        try:
            check_url(value, settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST)
        except OutboundRefused as exc:
            self.add(where, f"not allowed as an outbound target: {exc}")

    def signing_secret(self, where: str, table: Mapping[str, Any], needed_for: str | None) -> None:
        """`signing_secret_env` is required when something is sent (`needed_for` says what)
        and, when given, must name a usable key."""
        if "signing_secret_env" not in table:
            if needed_for:
                self.add(f"{where}signing_secret_env", f"is required {needed_for}")
            return
        value = table["signing_secret_env"]
        if not isinstance(value, str):
            self.add(f"{where}signing_secret_env", f"must be a string, got {value!r}")
        elif problem := signing_secret_problem(value):
            self.add(f"{where}signing_secret_env", problem)


def _executors() -> set[str]:
    return _BUILTIN_EXECUTORS | set(getattr(settings, "REVIEWQUEUE_EXECUTORS", {}))


def action_type_problems(t: Mapping[str, Any]) -> list[Problem]:
    """An [[action_types]] table's problems (paths relative to the table)."""
    check = _Checker()
    check.keys("", t, _ACTION_KEYS, {"name", "payload_schema"})
    check.string("name", t.get("name"), pattern=_ACTION_NAME)
    executors = _executors()
    executor = t.get("executor", "noop")
    if executor not in executors:
        check.add(
            "executor",
            f"unknown executor {executor!r} (expected one of {', '.join(sorted(executors))})",
        )
    if "url" in t:
        check.url("url", t["url"])
    elif executor == "webhook":
        check.add("url", "is required for the webhook executor")
    signed = executor in signing.SIGNED_EXECUTORS
    check.signing_secret(
        "", t, f"for the {executor} executor (every request is signed)" if signed else None
    )
    schema = t.get("payload_schema")
    if "payload_schema" in t and (problem := schema_problem(schema)):
        check.add("payload_schema", problem)
    cosmetic = check.string_list("cosmetic_fields", t.get("cosmetic_fields", []))
    props = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(props, dict):
        for name in cosmetic:
            if name.split(".")[0] not in props:
                check.add("cosmetic_fields", f"'{name}' is not a property of payload_schema")
    if "always_review" in t:
        check.boolean("always_review", t["always_review"])
    if "max_attempts" in t:
        check.positive_int("max_attempts", t["max_attempts"])
    if "timeout_seconds" in t:
        v = t["timeout_seconds"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 300:
            check.add("timeout_seconds", f"must be a number of seconds from 0 to 300, got {v!r}")
    return check.problems


def _readiness(check: _Checker, value: Any) -> None:
    if not isinstance(value, dict):
        check.add("readiness", "must be a table")
        return
    for key, v in value.items():
        if key not in READINESS_DEFAULTS:
            known = ", ".join(sorted(READINESS_DEFAULTS))
            check.add(f"readiness.{key}", f"unknown gate setting (expected one of {known})")
        elif readiness_config({key: v})[key] != v or isinstance(v, bool):
            # readiness_config ignores what it cannot use; refuse it here instead.
            whole = isinstance(READINESS_DEFAULTS[key], int)
            expected = "a whole number of at least 1, in range" if whole else "a number from 0 to 1"
            check.add(f"readiness.{key}", f"must be {expected}, got {v!r}")


def _numeric_properties(schema: Any) -> set[str]:
    """The top-level payload properties a schema lets be numbers (no type says any)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return set()
    numeric = set()
    for name, spec in props.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        kinds = kind if isinstance(kind, list) else [kind]
        if kind is None or {"number", "integer"} & set(kinds):
            numeric.add(name)
    return numeric


def _anomaly(check: _Checker, value: Any, schemas: list[Any]) -> None:
    """`anomaly = { fields = ["amount"], z = 4.0, window = 1000 }`: fields must be numeric
    top-level payload properties of at least one of the queue's action types."""
    if not isinstance(value, dict):
        check.add("anomaly", 'must be a table, e.g. { fields = ["amount"], z = 4.0 }')
        return
    if not value:
        return  # {}: no outlier flags (the admin's empty value)
    check.keys("anomaly", value, {"fields", "z", "window"}, {"fields"})
    numeric = set().union(*(_numeric_properties(s) for s in schemas))
    fields = check.string_list("anomaly.fields", value.get("fields", []))
    if "fields" in value and not fields and isinstance(value["fields"], list):
        check.add("anomaly.fields", "must name at least one payload field")
    for name in fields:
        if name not in numeric:
            known = ", ".join(sorted(numeric)) or "none"
            check.add(
                "anomaly.fields",
                f"'{name}' is not a numeric property of any of this queue's action types' "
                f"payload_schema (numeric properties: {known})",
            )
    if "z" in value:
        z = value["z"]
        if isinstance(z, bool) or not isinstance(z, int | float) or not 0 < z <= 100:
            check.add("anomaly.z", f"must be a number above 0 and at most 100, got {z!r}")
    if "window" in value:
        w = value["window"]
        if isinstance(w, bool) or not isinstance(w, int) or not 10 <= w <= ANOMALY_MAX_WINDOW:
            check.add(
                "anomaly.window",
                f"must be a whole number of items from 10 to {ANOMALY_MAX_WINDOW}, got {w!r}",
            )


def queue_problems(t: Mapping[str, Any], *, action_schemas: Mapping[str, Any]) -> list[Problem]:
    """A [[queues]] table's problems; `action_schemas` are the action types it may list, by
    name, with their payload schemas."""
    action_names = set(action_schemas)
    check = _Checker()
    check.keys("", t, _QUEUE_KEYS, {"slug", "name", "action_types"})
    check.string("slug", t.get("slug"), pattern=_SLUG)
    if "name" in t:
        check.string("name", t["name"])
    stages = [s.value for s in Stage]
    stage = t.get("stage", Stage.APPROVAL.value)
    if stage not in stages:
        check.add("stage", f"unknown stage {stage!r} (expected one of {', '.join(stages)})")
    for name in check.string_list("action_types", t.get("action_types", [])):
        if name not in action_names:
            check.add("action_types", f"unknown action type '{name}'")
    check.string_list("reason_codes", t.get("reason_codes", []))
    for key in ("sla_minutes", "lease_minutes", "max_per_5min"):
        if key in t:
            check.positive_int(key, t[key])
    for key in ("sla_escalate", "blind_review"):
        if key in t:
            check.boolean(key, t[key])
    for section, allowed in (("routing", _ROUTING_KEYS), ("breaker", _BREAKER_KEYS)):
        table = t.get(section, {})
        if not isinstance(table, dict):
            check.add(section, "must be a table")
            continue
        check.keys(section, table, allowed, set())
        for key in allowed & set(table):
            if key == "window":
                check.positive_int(f"{section}.{key}", table[key])
            else:
                check.unit(f"{section}.{key}", table[key])
    if "readiness" in t:
        _readiness(check, t["readiness"])
    if "anomaly" in t:
        listed = t.get("action_types", [])
        names = [n for n in listed if isinstance(n, str)] if isinstance(listed, list) else []
        _anomaly(check, t["anomaly"], [action_schemas.get(n) for n in names])
    return check.problems


def source_problems(t: Mapping[str, Any], *, queue_slugs: set[str]) -> list[Problem]:
    """A [[sources]] table's problems; `queue_slugs` are the queues it may list."""
    check = _Checker()
    check.keys("", t, _SOURCE_KEYS, {"name"})
    check.string("name", t.get("name"), pattern=_SLUG)
    for slug in check.string_list("queues", t.get("queues", [])):
        if slug not in queue_slugs:
            check.add("queues", f"unknown queue '{slug}'")
    if "callback_url" in t:
        check.url("callback_url", t["callback_url"])
    check.signing_secret(
        "", t, "with a callback_url (every callback is signed)" if "callback_url" in t else None
    )
    if "active" in t:
        check.boolean("active", t["active"])
    return check.problems


def member_problems(
    t: Mapping[str, Any], *, user_roles: Mapping[str, str], queue_slugs: set[str]
) -> list[Problem]:
    """A [[members]] table's problems; `user_roles` maps existing usernames to app roles."""
    check = _Checker()
    check.keys("", t, _MEMBER_KEYS, {"user", "queues"})
    user = t.get("user")
    if check.string("user", user):
        if user not in user_roles:
            check.add(
                "user",
                f"no user '{user}' (create it first: manage.py create_user {user} --role reviewer)",
            )
        elif refusal := access.membership_refusal(user_roles[str(user)]):
            check.add("user", f"'{user}' is an auditor: {refusal}")
    for slug in check.string_list("queues", t.get("queues", [])):
        if slug not in queue_slugs:
            check.add("queues", f"unknown queue '{slug}'")
    roles = [r.value for r in MemberRole]
    role = t.get("role", MemberRole.REVIEWER.value)
    if role not in roles:
        check.add("role", f"unknown role {role!r} (expected one of {', '.join(roles)})")
    return check.problems


def _tables(problems: list[str], data: dict[str, Any], section: str) -> list[dict[str, Any]]:
    value = data.get(section, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems.append(f"{section}: must be an array of tables ([[{section}]])")
        return []
    return value


def _duplicates(
    problems: list[str], section: str, key: str, tables: list[dict[str, Any]], what: str
) -> None:
    seen: set[Any] = set()
    for i, t in enumerate(tables):
        value = t.get(key)
        if isinstance(value, str) and value in seen:
            problems.append(f"{section}[{i}].{key}: duplicate {what} '{value}'")
        seen.add(value)


def file_problems(
    data: dict[str, Any],
    *,
    known_action_schemas: Mapping[str, Any],
    known_queue_slugs: set[str],
    user_roles: Mapping[str, str],
) -> list[str]:
    """Every problem of a parsed config file, as `section[i].key: message` lines. The known
    names are those already in the database (a file may refer to them); action types come
    with their payload schemas."""
    problems = [
        f"{key}: unknown section (expected {', '.join(sorted(_SECTIONS))})"
        for key in sorted(set(data) - _SECTIONS)
    ]
    actions = _tables(problems, data, "action_types")
    queues = _tables(problems, data, "queues")
    sources = _tables(problems, data, "sources")
    members = _tables(problems, data, "members")
    action_schemas = {
        **known_action_schemas,
        **{
            t["name"]: t.get("payload_schema", {})
            for t in actions
            if isinstance(t.get("name"), str)
        },
    }
    queue_slugs = known_queue_slugs | {t["slug"] for t in queues if isinstance(t.get("slug"), str)}
    for section, tables, judge in (
        ("action_types", actions, action_type_problems),
        ("queues", queues, lambda t: queue_problems(t, action_schemas=action_schemas)),
        ("sources", sources, lambda t: source_problems(t, queue_slugs=queue_slugs)),
        (
            "members",
            members,
            lambda t: member_problems(t, user_roles=user_roles, queue_slugs=queue_slugs),
        ),
    ):
        for i, t in enumerate(tables):
            problems += [f"{section}[{i}].{where}: {message}" for where, message in judge(t)]
    _duplicates(problems, "action_types", "name", actions, "action type")
    _duplicates(problems, "queues", "slug", queues, "queue slug")
    _duplicates(problems, "sources", "name", sources, "source")
    return problems


# --- Between model values and TOML tables -------------------------------------------------


def table_of(fields: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """The TOML table that describes model `values` (field -> value); empty optional values
    (None, "") are left out, as a file would leave them out."""
    table: dict[str, Any] = {}
    for key, name in fields.items():
        value = values.get(name)
        if value is None or value == "":
            continue
        *parents, last = key.split(".")
        here = table
        for part in parents:
            here = here.setdefault(part, {})
        here[last] = value
    return table


def values_of(fields: Mapping[str, str], table: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """Model field values from a TOML table; a key the table leaves out takes the model
    field's default, so the defaults live in one place (the model)."""
    values = {}
    for key, name in fields.items():
        *parents, last = key.split(".")
        here: Any = table
        for part in parents:
            here = here.get(part, {})
        column = model._meta.get_field(name)
        # to_python: TOML's 1 for a float column is 1.0, as the database gives it back.
        values[name] = column.to_python(here[last]) if last in here else column.get_default()
    return values


def field_of(fields: Mapping[str, str], path: str) -> str | None:
    """The model field a problem's path points at (`readiness.x` is the `readiness` field),
    or None when it is about the object as a whole."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in fields:
            return fields[key]
    return path if path in ("name", "slug") else None
