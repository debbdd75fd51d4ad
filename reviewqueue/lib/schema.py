"""JSON Schema validation (the `jsonschema` library) with errors keyed by field path.

Regular expressions in a schema (`pattern`, `patternProperties`) come from configuration
and run against text from AI systems, so they run on RE2, a linear-time engine: a pattern
such as `(a+)+$` cannot make one payload take exponential time (issue 14 #11). Python's
`re` never sees them: jsonschema's keywords that match are replaced here, and the compiled
fast path's table of regexes is refilled with RE2 ones. RE2 has no backreferences or
lookaround; config_check refuses such patterns (`schema_problem`), so they never reach
ingest. With the body size limit, validating one payload takes bounded time.
"""

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import re2
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

# RE2's own bound on a compiled pattern's memory: a pattern like `a{1000}{1000}` is refused
# at config time instead of taking memory at ingest.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.max_mem = 1 << 20
_RE2_OPTIONS.log_errors = False
MAX_PATTERN_LENGTH = 1000


class UnsafePattern(ValueError):
    """A pattern the linear-time engine cannot run (or that is too big)."""


@lru_cache(maxsize=1024)
def safe_pattern(pattern: str) -> Any:
    """`pattern` compiled by RE2 (linear time in the text). UnsafePattern when RE2 cannot
    compile it (backreferences, lookaround) or it is too big."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsafePattern(f"longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "not supported"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise UnsafePattern(str(reason)) from None


def _search(pattern: str, text: str) -> bool:
    return safe_pattern(pattern).search(text) is not None


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = _search(patrn, instance)
    except UnsafePattern:
        found = False  # refused at config time; an old row fails closed, never on `re`
    if not found:
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _matching(patterns: Any, key: str) -> list[str]:
    out = []
    for pattern in patterns:
        try:
            if _search(pattern, key):
                out.append(pattern)
        except UnsafePattern:
            continue
    return out


def _pattern_properties(
    validator: Any, pattern_properties: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for k, v in instance.items():
            if _matching([pattern], k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # jsonschema's own version joins the patternProperties into one `re` search.
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = [p for p in instance if p not in properties and not _matching(patterns, p)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(e) for e in sorted(extras))
            listed = ", ".join(repr(p) for p in sorted(patterns))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {listed}")
        else:
            names = ", ".join(repr(e) for e in extras)
            yield ValidationError(f"Additional properties are not allowed ({names} unexpected)")


_RE2_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


@lru_cache(maxsize=16)
def _safe_class(cls: Any) -> Any:
    """The validator class of a draft with the matching keywords on RE2."""
    return validators.extend(cls, _RE2_KEYWORDS)


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    return _safe_class(cls)(schema)  # type: ignore[no-any-return]


def validator_for(schema: dict[str, Any]) -> Validator:
    """A cached validator; the cache key is the schema's canonical JSON."""
    return _compiled(json.dumps(schema, sort_keys=True))


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a valid JSON Schema, or None."""
    if not isinstance(schema, dict):
        return "must be a table (a JSON Schema object)"
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        return f"invalid JSON Schema{' at ' + where if where else ''}: {exc.message}"
    return _patterns_problem(schema, "")


def _patterns_problem(node: Any, where: str) -> str | None:
    """The first pattern in `node` that the linear-time engine refuses, said with its place;
    `unevaluatedProperties` beside pattern properties (jsonschema matches those with `re`)."""
    at = f" at {where}" if where else ""
    if isinstance(node, list):
        for i, child in enumerate(node):
            if problem := _patterns_problem(child, f"{where}.{i}" if where else str(i)):
                return problem
        return None
    if not isinstance(node, dict):
        return None
    patterns = []
    if isinstance(node.get("pattern"), str):
        patterns.append(node["pattern"])
    if isinstance(node.get("patternProperties"), dict):
        patterns.extend(node["patternProperties"])
    for pattern in patterns:
        try:
            safe_pattern(pattern)
        except UnsafePattern as exc:
            return (
                f"pattern {pattern!r}{at} cannot be used: {exc} (patterns run on RE2, a "
                "linear-time engine: no backreferences or lookaround)"
            )
    if "unevaluatedProperties" in node and _has_pattern_properties(node):
        return f"unevaluatedProperties{at} cannot be combined with patternProperties"
    for key, child in node.items():
        if key in ("enum", "const", "default", "examples"):
            continue  # values, not schemas
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(
            child, dict
        ):
            for name, sub in child.items():
                if problem := _patterns_problem(sub, f"{where}.{name}" if where else name):
                    return problem
        elif isinstance(child, dict | list) and (
            problem := _patterns_problem(child, f"{where}.{key}" if where else key)
        ):
            return problem
    return None


def _has_pattern_properties(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_pattern_properties(c) for c in node)
    if not isinstance(node, dict):
        return False
    return "patternProperties" in node or any(
        _has_pattern_properties(v) for k, v in node.items() if k not in ("enum", "const")
    )


def _join(prefix: str, parts: Any) -> str:
    path = ".".join([prefix, *(str(p) for p in parts)] if prefix else [str(p) for p in parts])
    return path or "body"


def _message(err: ValidationError) -> str:
    v, value = err.validator, err.validator_value
    # `x-message` explains a pattern in words; a too-long value still hears its length.
    custom = err.schema.get("x-message") if isinstance(err.schema, dict) else None
    if custom and v == "pattern":
        return str(custom)
    if v == "type":
        expected = " or ".join(value) if isinstance(value, list) else value
        return f"Must be of type {expected}."
    if v == "minimum":
        return f"Must be at least {value}."
    if v == "maximum":
        return f"Must be at most {value}."
    if v == "exclusiveMinimum":
        return f"Must be greater than {value}."
    if v == "exclusiveMaximum":
        return f"Must be less than {value}."
    if v == "minLength":
        return "Must not be empty." if value == 1 else f"Must be at least {value} characters."
    if v == "maxLength":
        return f"Must be at most {value} characters."
    if v == "maxItems":
        return f"Must have at most {value} item{'' if value == 1 else 's'}."
    if v == "minItems":
        return f"Must have at least {value} item{'' if value == 1 else 's'}."
    if v == "enum":
        return "Must be one of: " + ", ".join(json.dumps(x) for x in value) + "."  # type: ignore[union-attr]
    if v == "const":
        return f"Must be {json.dumps(value)}."
    return str(err.message)


def errors_by_path(validator: Validator, instance: Any, prefix: str = "") -> dict[str, str]:
    """Every schema violation, keyed by dotted field path (`action.payload.amount`)."""
    errors: dict[str, str] = {}

    def add(path: str, message: str) -> None:
        errors[path] = f"{errors[path]} {message}" if path in errors else message

    for err in validator.iter_errors(instance):  # type: ValidationError
        base = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            assert isinstance(err.validator_value, list)
            # jsonschema yields one error per missing name; each names them all, so dedupe.
            for name in err.validator_value:
                path = _join(prefix, [*base, name])
                if name not in err.instance and path not in errors:
                    add(path, "This field is required.")
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = set(err.schema.get("properties", {})) if isinstance(err.schema, dict) else set()
            for name in err.instance:
                if name not in known:
                    add(_join(prefix, [*base, name]), "Unknown field.")
        else:
            add(_join(prefix, base), _message(err))
    return errors


# --- The fast path ----------------------------------------------------------------------
# jsonschema interprets a schema on every call (~110 µs for one ingest item); fastjsonschema
# compiles it to Python (~10x faster) but reports only the first error. So valid input takes
# the compiled path and invalid input is re-checked by jsonschema for every error with its
# path. fastjsonschema implements draft-07: a schema is compiled only when every keyword in
# it means the same in draft-07 and 2020-12; anything else stays on jsonschema alone.

_PORTABLE_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "patternProperties",
    "propertyNames",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "format",
    "title",
    "description",
    "default",
    "examples",
    "x-message",
}
_SCHEMA_MAPS = {"properties", "patternProperties"}
_SCHEMA_LISTS = {"anyOf", "oneOf", "allOf"}
_SUBSCHEMAS = {"additionalProperties", "items", "not", "if", "then", "else", "propertyNames"}


def _portable(schema: Any) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not set(schema) <= _PORTABLE_KEYWORDS:
        return False
    if isinstance(schema.get("exclusiveMinimum"), bool) or isinstance(
        schema.get("exclusiveMaximum"), bool
    ):
        return False
    for key in _SCHEMA_MAPS & set(schema):
        if not isinstance(schema[key], dict) or not all(_portable(s) for s in schema[key].values()):
            return False
    for key in _SCHEMA_LISTS & set(schema):
        if not isinstance(schema[key], list) or not all(_portable(s) for s in schema[key]):
            return False
    return all(_portable(schema[key]) for key in _SUBSCHEMAS & set(schema))


def _compile_fast(schema: dict[str, Any]) -> Any:
    """fastjsonschema's compiled validator with RE2 in place of every `re` pattern, or None.
    fastjsonschema has no option for another regex engine; its generated code looks its
    patterns up in the REGEX_PATTERNS table of its globals (keyed by the schema's pattern,
    for `pattern` and `patternProperties` alike), so the table is refilled. If that table
    is not where it was, or a pattern is one RE2 refuses, there is no fast path."""
    import fastjsonschema

    try:
        # Formats are annotations by default in jsonschema; keep them so here too.
        fast = fastjsonschema.compile(schema, use_formats=False, detailed_exceptions=False)
    except (fastjsonschema.JsonSchemaDefinitionException, re.error):
        return None  # e.g. a pattern RE2 reads and Python's re does not: jsonschema alone
    table = getattr(fast, "__globals__", {}).get("REGEX_PATTERNS")
    if not isinstance(table, dict):
        return None
    try:
        for pattern in list(table):
            table[pattern] = _Searcher(safe_pattern(pattern))
    except UnsafePattern:
        return None
    return fast


class _Searcher:
    """A compiled RE2 pattern for fastjsonschema's table, which asks only whether `search`
    found something. re2's own `search` also maps the match's byte offsets back to
    characters and builds a match object: ~25 us a call, 5% of an ingest batch whose
    payloads have one pattern. This asks RE2 the question itself when the wrapper exposes
    its engine as google-re2 1.1 does, else it falls back to `search`."""

    __slots__ = ("_engine", "_pattern")
    _engine: tuple[Any, Any, Any] | None

    def __init__(self, pattern: Any):
        self._pattern = pattern
        anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
        engine = getattr(pattern, "_regexp", None)
        self._engine = (
            (engine, anchor, re2._NULL_SPAN)
            if anchor is not None and hasattr(engine, "Match") and hasattr(re2, "_NULL_SPAN")
            else None
        )

    def search(self, text: str) -> bool:
        if self._engine is None:
            return self._pattern.search(text) is not None
        engine, anchor, nothing = self._engine
        data = text.encode("utf-8")
        return bool(engine.Match(anchor, data, 0, len(data))[0] != nothing)

    def match(self, text: str) -> Any:
        return self._pattern.match(text)


class FastValidator:
    """`errors(instance)`: {} when valid, else every error by path (jsonschema's view)."""

    def __init__(self, schema: dict[str, Any]):
        self.slow = validator_for(schema)
        self.fast = _compile_fast(schema) if _portable(schema) else None

    def errors(self, instance: Any, prefix: str = "") -> dict[str, str]:
        if self.fast is not None:
            import fastjsonschema

            try:
                self.fast(instance)
                return {}
            except fastjsonschema.JsonSchemaValueException:
                pass
        return errors_by_path(self.slow, instance, prefix)
