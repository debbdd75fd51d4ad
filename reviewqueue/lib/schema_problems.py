"""JSON Schema violations as precise problems: (key path, message), worded by the schema's own
annotations (reviewqueue/config_schema.py says which). One problem per key path (the first
violation found there), except that a missing key and an unknown key are each named at their
own path, and a list's duplicates are each named.

Integers are strict: TOML's `1.0` is a float and not an integer (jsonschema's default
accepts a float without a fraction).
"""

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

Path = tuple[str | int, ...]


def _strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)


def problems(schema: dict[str, Any], instance: Any) -> list[tuple[Path, str]]:
    """Every problem of `instance` against `schema`, in the order found."""
    found: dict[Path, list[str]] = {}
    for error in StrictValidator(schema).iter_errors(instance):
        for path, messages in _worded(schema, error):
            found.setdefault(path, messages)
    return [(path, m) for path, messages in found.items() for m in dict.fromkeys(messages)]


def _worded(root: dict[str, Any], error: ValidationError) -> Iterator[tuple[Path, list[str]]]:
    path: Path = tuple(error.absolute_path)
    node = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        for name in error.validator_value:  # type: ignore[union-attr]
            if name not in instance:
                yield (*path, name), ["is required"]
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = node.get("properties", {})
        template = node.get("x-unknown", "unknown key (expected one of {known})")
        for key in instance:
            if key not in known:
                yield (*path, key), [template.format(known=", ".join(sorted(known)))]
        return
    if path and isinstance(path[-1], int):
        # An item of the wrong kind: the problem is the list's (`x-items`), said once.
        parent = _node_at(root, path[:-1])
        if "x-items" in parent:
            yield path[:-1], [parent["x-items"]]
            return
    messages = node.get("x-messages", {})
    template = messages.get(str(error.validator)) or messages.get("*")
    if template is None:
        yield path, [error.message]
    elif error.validator == "uniqueItems" and isinstance(instance, list):
        seen: list[Any] = []
        repeated = []
        for item in instance:
            if item in seen:
                repeated.append(template.format(item=item))
            seen.append(item)
        yield path, repeated
    else:
        yield path, [template.format_map(_words(node, instance))]


def _words(node: dict[str, Any], value: Any) -> dict[str, Any]:
    return {
        "value": value,
        "length": len(value) if isinstance(value, str | list | dict) else None,
        "minimum": node.get("minimum", node.get("exclusiveMinimum")),
        "maximum": node.get("maximum", node.get("maxLength")),
        "pattern": node.get("pattern"),
        "enum": ", ".join(str(v) for v in node.get("enum", [])),
    }


def _node_at(root: dict[str, Any], path: Path) -> dict[str, Any]:
    """The (sub)schema that describes the value at `path` (through properties, items and
    local `$ref`s), or {}."""
    node = _resolved(root, root)
    for part in path:
        child = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
        node = _resolved(root, child if isinstance(child, dict) else {})
    return node


def _resolved(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return _resolved(root, target)
