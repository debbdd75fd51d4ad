"""What valid configuration is: the one validator for apply_config's TOML and the admin's
forms. Both describe an object as its TOML table (the admin builds the table from the
form's values, `*_table`), so both hear the same rules in the same words; a problem's path
inside the table maps back to the model field (`field_of`) for the admin's field errors.

Two halves: the JSON Schema of the file (reviewqueue/config_schema.py: keys, types,
ranges, defaults, and the wording of each problem), and here the rules a schema cannot
say: references between sections and to rows already applied, executors of this
deployment, outbound URLs (lib/outbound.check_url), signing keys (lib/signing), payload
schemas (valid, patterns on RE2), cosmetic and anomaly fields against the payload schema,
members who exist and may be members. A rule looks only at values the schema accepted, so
one mistake is one problem.

The database refuses what must never be stored (windows below 1, rates outside [0, 1];
models/config.py), so a path that skips this check still cannot store a queue the worker
would divide by zero on.
"""

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from reviewqueue import access, config_schema, executors
from reviewqueue.lib import signing
from reviewqueue.lib.outbound import OutboundRefused, check_url
from reviewqueue.lib.schema import schema_problem
from reviewqueue.lib.schema_problems import Path, problems

# (path inside the object's TOML table, message)
Problem = tuple[str, str]

# TOML key (dotted inside the table) -> model field (the schema's `x-field`).
QUEUE_FIELDS = config_schema.fields("queues")
ACTION_TYPE_FIELDS = config_schema.fields("action_types")
SOURCE_FIELDS = config_schema.fields("sources")


def _dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)


class _Rules:
    """The rules' problems of one table; they see only values the schema accepted
    (`refused`: the paths the schema already named)."""

    def __init__(self, table: Mapping[str, Any], refused: set[str]) -> None:
        self.table = table
        self.refused = refused
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def value(self, key: str) -> Any:
        """The table's value at `key` when the schema accepted it (and every table above
        it), else None."""
        here: Any = self.table
        parts = key.split(".")
        for end, part in enumerate(parts, 1):
            if ".".join(parts[:end]) in self.refused or not isinstance(here, Mapping):
                return None
            here = here.get(part)
        return here

    def strings(self, key: str) -> list[str]:
        """The list of non-empty strings at `key`, each once, or []: a name listed twice is
        one problem (the schema's), and an unknown name another."""
        *parents, last = key.split(".")
        here = self.value(".".join(parents)) if parents else self.table
        value = here.get(last) if isinstance(here, Mapping) else None
        if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            return list(dict.fromkeys(value))
        return []

    def names(self, key: str, known: set[str], what: str) -> None:
        for name in self.strings(key):
            if name not in known:
                self.add(key, f"unknown {what} '{name}'")

    def url(self, key: str) -> None:
        value = self.value(key)
        if value is None:
            return
        if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
            self.add(key, f"must be an http:// or https:// URL, got {value!r}")
            return
        try:
            check_url(value, settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST)
        except OutboundRefused as exc:
            self.add(key, f"not allowed as an outbound target: {exc}")

    def signing_secret(self, needed_for: str | None) -> None:
        """`signing_secret_env` is required when something is sent (`needed_for` says what)
        and, when given, must name a usable key."""
        if "signing_secret_env" not in self.table:
            if needed_for:
                self.add("signing_secret_env", f"is required {needed_for}")
        elif (env := self.value("signing_secret_env")) is not None and (
            problem := signing.signing_secret_problem(env)
        ):
            self.add("signing_secret_env", problem)


def _judged(
    section: str, table: Mapping[str, Any], rules: Callable[[_Rules], None]
) -> list[Problem]:
    """One table's problems: its schema's, then its rules'."""
    schema = config_schema.table_schema(section)
    found = [(_dotted(p), m) for p, m in problems(schema, dict(table))]
    check = _Rules(table, {where for where, _ in found})
    rules(check)
    return found + check.problems


def _executors() -> set[str]:
    return set(executors.BUILTIN) | set(getattr(settings, "REVIEWQUEUE_EXECUTORS", {}))


def _action_type_rules(check: _Rules) -> None:
    t = check.table
    known = _executors()
    executor = t.get("executor", config_schema.default("action_types", "executor"))
    if not isinstance(executor, str):
        executor = None  # the schema said so
    elif executor not in known:
        check.add(
            "executor",
            f"unknown executor {executor!r} (expected one of {', '.join(sorted(known))})",
        )
    if "url" in t:
        check.url("url")
    elif executor == "webhook":
        check.add("url", "is required for the webhook executor")
    signed = executor in signing.SIGNED_EXECUTORS
    check.signing_secret(
        f"for the {executor} executor (every request is signed)" if signed else None
    )
    schema = check.value("payload_schema")
    if schema is not None and (problem := schema_problem(schema)):
        check.add("payload_schema", problem)
    props = schema.get("properties") if schema is not None else None
    if isinstance(props, dict):
        for name in check.strings("cosmetic_fields"):
            if name.split(".")[0] not in props:
                check.add("cosmetic_fields", f"'{name}' is not a property of payload_schema")


def action_type_problems(t: Mapping[str, Any]) -> list[Problem]:
    """An [[action_types]] table's problems (paths relative to the table)."""
    return _judged("action_types", t, _action_type_rules)


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


def _reason_rules(check: _Rules) -> None:
    """A code named twice (as strings, tables or one of each) is one problem per repeat."""
    listed = check.value("reason_codes")
    seen: set[str] = set()
    for item in listed if isinstance(listed, list) else []:
        code = item.get("code") if isinstance(item, dict) else item
        if isinstance(code, str) and code:
            if code in seen:
                check.add("reason_codes", f"'{code}' is listed twice")
            seen.add(code)


def _queue_rules(check: _Rules, action_schemas: Mapping[str, Any]) -> None:
    check.names("action_types", set(action_schemas), "action type")
    _reason_rules(check)
    if check.value("sla_warning_minutes") and "sla_minutes" not in check.table:
        check.add(
            "sla_warning_minutes",
            "needs sla_minutes: without an SLA there is no due time to warn before",
        )
    fields = check.strings("anomaly.fields")
    if not fields:
        return
    listed = check.table.get("action_types", [])
    names = [n for n in listed if isinstance(n, str)] if isinstance(listed, list) else []
    numeric = set().union(*(_numeric_properties(action_schemas.get(n)) for n in names))
    for name in fields:
        if name not in numeric:
            check.add(
                "anomaly.fields",
                f"'{name}' is not a numeric property of any of this queue's action types' "
                f"payload_schema (numeric properties: {', '.join(sorted(numeric)) or 'none'})",
            )


def queue_problems(t: Mapping[str, Any], *, action_schemas: Mapping[str, Any]) -> list[Problem]:
    """A [[queues]] table's problems; `action_schemas` are the action types it may list, by
    name, with their payload schemas."""
    return _judged("queues", t, lambda check: _queue_rules(check, action_schemas))


def _source_rules(check: _Rules, queue_slugs: set[str]) -> None:
    check.names("queues", queue_slugs, "queue")
    if "callback_url" in check.table:
        check.url("callback_url")
        check.signing_secret("with a callback_url (every callback is signed)")
    else:
        check.signing_secret(None)


def source_problems(t: Mapping[str, Any], *, queue_slugs: set[str]) -> list[Problem]:
    """A [[sources]] table's problems; `queue_slugs` are the queues it may list."""
    return _judged("sources", t, lambda check: _source_rules(check, queue_slugs))


def _member_rules(check: _Rules, user_roles: Mapping[str, str], queue_slugs: set[str]) -> None:
    user = check.value("user")
    if user is not None and user not in user_roles:
        check.add(
            "user",
            f"no user '{user}' (create it first: manage.py create_user {user} --role reviewer)",
        )
    elif user is not None and (refusal := access.membership_refusal(user_roles[user])):
        check.add("user", f"'{user}' is an auditor: {refusal}")
    check.names("queues", queue_slugs, "queue")


def member_problems(
    t: Mapping[str, Any], *, user_roles: Mapping[str, str], queue_slugs: set[str]
) -> list[Problem]:
    """A [[members]] table's problems; `user_roles` maps existing usernames to app roles."""
    return _judged("members", t, lambda check: _member_rules(check, user_roles, queue_slugs))


def _file_path(path: Path) -> str:
    """`queues[0].routing.auto_max_risk` for ("queues", 0, "routing", "auto_max_risk")."""
    if len(path) >= 2 and isinstance(path[1], int):
        return _dotted((f"{path[0]}[{path[1]}]", *path[2:]))
    return _dotted(path)


def _duplicates(section: str, key: str, tables: list[Any], what: str) -> list[str]:
    seen: set[Any] = set()
    found = []
    for i, t in enumerate(tables):
        value = t.get(key) if isinstance(t, dict) else None
        if isinstance(value, str) and value in seen:
            found.append(f"{section}[{i}].{key}: duplicate {what} '{value}'")
        if isinstance(value, str):
            seen.add(value)
    return found


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
    found = problems(config_schema.file_schema(), data)
    lines = [f"{_file_path(path)}: {message}" for path, message in found]

    def tables(section: str) -> list[Any]:
        value = data.get(section, [])
        return value if isinstance(value, list) else []

    actions, queues = tables("action_types"), tables("queues")
    action_schemas = {
        **known_action_schemas,
        **{
            t["name"]: t.get("payload_schema", {})
            for t in actions
            if isinstance(t, dict) and isinstance(t.get("name"), str)
        },
    }
    queue_slugs = known_queue_slugs | {
        t["slug"] for t in queues if isinstance(t, dict) and isinstance(t.get("slug"), str)
    }
    rules: dict[str, Callable[[_Rules], None]] = {
        "action_types": _action_type_rules,
        "queues": lambda check: _queue_rules(check, action_schemas),
        "sources": lambda check: _source_rules(check, queue_slugs),
        "members": lambda check: _member_rules(check, user_roles, queue_slugs),
    }
    for section, judge in rules.items():
        for i, t in enumerate(tables(section)):
            if not isinstance(t, dict):
                continue
            check = _Rules(t, {_dotted(p[2:]) for p, _ in found if p[:2] == (section, i)})
            judge(check)
            lines += [f"{section}[{i}].{where}: {message}" for where, message in check.problems]
    lines += _duplicates("action_types", "name", actions, "action type")
    lines += _duplicates("queues", "slug", queues, "queue slug")
    lines += _duplicates("sources", "name", tables("sources"), "source")
    return lines


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
    field's default, which is the schema's (config_schema.model_default)."""
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
