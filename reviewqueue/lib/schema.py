"""JSON Schema validation (the `jsonschema` library) with errors keyed by field path."""

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    return cls(schema)


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
    return None


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


class FastValidator:
    """`errors(instance)`: {} when valid, else every error by path (jsonschema's view)."""

    def __init__(self, schema: dict[str, Any]):
        self.slow = validator_for(schema)
        self.fast = None
        if _portable(schema):
            import fastjsonschema

            # Formats are annotations by default in jsonschema; keep them so here too.
            self.fast = fastjsonschema.compile(schema, use_formats=False, detailed_exceptions=False)

    def errors(self, instance: Any, prefix: str = "") -> dict[str, str]:
        if self.fast is not None:
            import fastjsonschema

            try:
                self.fast(instance)
                return {}
            except fastjsonschema.JsonSchemaValueException:
                pass
        return errors_by_path(self.slow, instance, prefix)
