"""The Modify form: HTML fields generated from an action type's JSON Schema, and the way back
from submitted fields to a JSON payload. Pure: no ORM, no requests.

Field names are dotted paths under `payload` (`payload.address.line1`), the same keys the
review service uses for its validation errors, so an error lands next to its field. Whatever
a plain input cannot express faithfully (arrays, oneOf/anyOf/allOf/$ref, objects without
properties or with keys the schema does not list, union types, nulls) becomes a JSON textarea
for that field: the form never silently drops part of a payload.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reviewqueue.exceptions import ValidationFailed
from reviewqueue.lib.storable import MAX_DEPTH, check_storable

ROOT = "payload"
_MISSING: Any = object()
# Keywords that make a node more than one plain input can show.
_COMPOSITE = ("oneOf", "anyOf", "allOf", "not", "if", "$ref", "$dynamicRef", "const")


@dataclass
class FormField:
    """One row of the generated form. `widget` is text, select, number, checkbox, json,
    or group_start / group_end around a nested object's fields (a fieldset)."""

    name: str
    label: str
    widget: str
    id: str = ""
    required: bool = False
    value: str = ""
    checked: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    help: str = ""
    error: str = ""
    rows: int = 4  # a JSON textarea's height

    @property
    def is_group(self) -> bool:
        return self.widget in ("group_start", "group_end")


@dataclass
class _Ctx:
    fields: list[FormField] = field(default_factory=list)
    counter: int = 0

    def next_id(self) -> str:
        self.counter += 1
        return f"pf-{self.counter}"


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    if "properties" in schema:
        return ["object"]
    if "enum" in schema:
        return sorted({_json_type(v) for v in schema["enum"]})
    return []


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "object" if isinstance(value, dict) else "array"


def _kind(schema: Any, value: Any) -> str:
    """How to show `value` under `schema`: object, string, enum, number, integer, boolean
    or json. The same answer drives the form and its parsing, so they always agree."""
    if not isinstance(schema, Mapping) or any(k in schema for k in _COMPOSITE):
        return "json"
    types = _types(schema)
    if len(types) != 1:
        return "json"
    kind = types[0]
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, Mapping) or not props or "patternProperties" in schema:
            return "json"
        if any(not isinstance(k, str) or not k or "." in k for k in props):
            return "json"  # a dotted path could not name this key unambiguously
        if value is not _MISSING and not isinstance(value, dict):
            return "json"
        if isinstance(value, dict) and any(k not in props for k in value):
            return "json"  # keys the schema does not enumerate
        return "object"
    if kind not in ("string", "number", "integer", "boolean"):
        return "json"
    if "enum" in schema:
        enum = schema["enum"]
        ok = isinstance(enum, list) and enum and all(_fits(kind, v) for v in enum)
        return "enum" if ok and kind != "boolean" else "json"
    if value is not _MISSING and not _fits(kind, value):
        return "json"  # show what is there rather than a wrong input
    return kind


def _fits(kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    return kind == "string" and isinstance(value, str)


def _ordered(schema: Mapping[str, Any]) -> list[tuple[str, Any, bool]]:
    """(name, subschema, required) in a stable order: required fields first, as the schema's
    `required` array lists them, then the others alphabetically. The properties' own order
    is not kept by PostgreSQL's jsonb, which sorts keys by length."""
    props: Mapping[str, Any] = schema["properties"]
    needed = [n for n in (schema.get("required") or []) if isinstance(n, str) and n in props]
    rest = sorted(n for n in props if n not in needed)
    return [(n, props[n], n in needed) for n in dict.fromkeys([*needed, *rest])]


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)  # 40.0 stays 40.0: the form shows the payload as it is
    return str(value)


def _hint(schema: Mapping[str, Any]) -> str:
    parts = [str(schema[k]) for k in ("title", "description") if isinstance(schema.get(k), str)]
    return " — ".join(parts)


def _string_attrs(schema: Mapping[str, Any]) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if isinstance(schema.get("minLength"), int) and schema["minLength"] > 0:
        attrs["minlength"] = str(schema["minLength"])
    if isinstance(schema.get("maxLength"), int):
        attrs["maxlength"] = str(schema["maxLength"])
    if isinstance(schema.get("pattern"), str):
        # JSON Schema patterns search anywhere; HTML anchors the whole value.
        attrs["pattern"] = f".*(?:{schema['pattern']}).*"
    return attrs


def _number_attrs(schema: Mapping[str, Any], integer: bool) -> dict[str, str]:
    attrs: dict[str, str] = {}
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, int | float) and not isinstance(low, bool):
        attrs["min"] = str(math.ceil(low) if integer else low)
    if isinstance(high, int | float) and not isinstance(high, bool):
        attrs["max"] = str(math.floor(high) if integer else high)
    step = schema.get("multipleOf")
    base = low if isinstance(low, int | float) else 0
    if isinstance(step, int | float) and step > 0 and (base / step).is_integer():
        attrs["step"] = str(step)  # HTML counts steps from min, JSON Schema from 0
    else:
        attrs["step"] = "1" if integer else "any"
    return attrs


def _lookup(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else str(value)


def _add(
    ctx: _Ctx,
    schema: Any,
    value: Any,
    name: str,
    label: str,
    required: bool,
    data: Mapping[str, Any] | None,
) -> None:
    kind = _kind(schema, value)
    hint = _hint(schema) if isinstance(schema, Mapping) else ""
    submitted = _lookup(data, name) if data is not None else None
    if kind == "object":
        is_root = name == ROOT  # the form itself is the root object's fieldset
        if not is_root:
            ctx.fields.append(FormField(name, label, "group_start", required=required, help=hint))
        current = value if isinstance(value, dict) else {}
        for key, sub, sub_required in _ordered(schema):
            sub_value = current.get(key, _MISSING)
            _add(ctx, sub, sub_value, f"{name}.{key}", key, sub_required, data)
        if not is_root:
            ctx.fields.append(FormField(name, label, "group_end"))
        return
    f = FormField(name, label, "text", id=ctx.next_id(), required=required, help=hint)
    if kind == "json":
        f.widget = "json"
        if data is not None:
            f.value = submitted or ""
        elif value is not _MISSING:
            f.value = json.dumps(value, indent=2, ensure_ascii=False)
        f.rows = min(max(f.value.count("\n") + 1, 3), 18)
    elif kind == "boolean":
        f.widget = "checkbox"
        f.required = False  # an unchecked box is `false`, not a missing answer
        f.checked = (submitted is not None) if data is not None else value is True
    elif kind == "enum":
        f.widget = "select"
        enum = schema["enum"]
        plain = all(isinstance(v, str) for v in enum)
        f.choices = [(v if plain else json.dumps(v), str(v)) for v in enum]
        if not required or value is _MISSING:
            f.choices.insert(0, ("", "—"))
        if data is not None:
            f.value = submitted or ""
        elif value is not _MISSING:
            f.value = value if plain else json.dumps(value)
    elif kind in ("number", "integer"):
        f.widget = "number"
        f.attrs = _number_attrs(schema, integer=kind == "integer")
        if data is not None:
            f.value = submitted or ""
        elif value is not _MISSING:
            f.value = _number_text(value)
    else:
        f.attrs = _string_attrs(schema)
        if data is not None:
            f.value = submitted or ""
        elif value is not _MISSING:
            f.value = value
    ctx.fields.append(f)


def payload_fields(
    schema: Any,
    payload: Any,
    *,
    data: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[FormField]:
    """The form rows for `payload` under `schema`: prefilled with the payload, or with the
    submitted `data` when re-showing a refused form; `errors` are attached to the field
    whose name is the longest prefix of the error's path."""
    ctx = _Ctx()
    _add(ctx, schema, payload, ROOT, "payload", True, data)
    if errors:
        attach_errors(ctx.fields, errors)
    return ctx.fields


def attach_errors(fields: list[FormField], errors: Mapping[str, str]) -> dict[str, str]:
    """Put each `payload...` error on its field; returns the errors no field took."""
    by_name = {f.name: f for f in fields if f.widget != "group_end"}
    left: dict[str, str] = {}
    for path, message in errors.items():
        probe = path
        while probe and probe not in by_name:
            probe = probe.rpartition(".")[0]
        target = by_name.get(probe)
        if target is None or not path.startswith(ROOT):
            left[path] = message
            continue
        extra = "" if probe == path else f"{path.removeprefix(probe + '.')}: "
        target.error = f"{target.error} {extra}{message}".strip()
    return left


def _parse_number(text: str, integer: bool) -> int | float:
    """`40` -> 40, `40.0` -> 40.0 (kept as typed), `4e1` -> 40.0; ValueError otherwise."""
    if "_" in text:
        raise ValueError(text)  # Python accepts 1_000; JSON and HTML do not
    try:
        return int(text)  # exact, however large
    except ValueError:
        pass
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    if integer:
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    return number


def _parse(
    schema: Any,
    original: Any,
    name: str,
    required: bool,
    data: Mapping[str, Any],
    errors: dict[str, str],
) -> Any:
    """The JSON value of field `name`, or _MISSING to leave the key out."""
    kind = _kind(schema, original)
    if kind == "object":
        current = original if isinstance(original, dict) else {}
        result: dict[str, Any] = {}
        for key, sub, sub_required in _ordered(schema):
            sub_value = _parse(
                sub, current.get(key, _MISSING), f"{name}.{key}", sub_required, data, errors
            )
            if sub_value is not _MISSING:
                result[key] = sub_value
        if not result and not required and original is _MISSING:
            return _MISSING  # an optional object nobody filled in stays absent
        return result
    if kind == "boolean":
        checked = data.get(name) is not None
        if not checked and not required and original is _MISSING:
            return _MISSING
        return checked
    text = str(data.get(name) or "")
    if kind != "string":
        text = text.strip()
    if text == "":
        # Empty means "leave out", unless the payload really had an empty string there.
        return "" if kind == "string" and original == "" else _MISSING
    if kind == "string":
        return text
    if kind == "enum":
        if all(isinstance(v, str) for v in schema["enum"]):
            return text
        kind = "json"
    if kind in ("number", "integer"):
        try:
            return _parse_number(text, integer=kind == "integer")
        except ValueError:
            errors[name] = "Enter a whole number." if kind == "integer" else "Enter a number."
            return _MISSING
    try:
        return json.loads(text)
    except ValueError as exc:
        errors[name] = f"Enter valid JSON ({exc})."
        return _MISSING


def payload_from_form(
    schema: Any, data: Mapping[str, Any], *, original: Any
) -> tuple[Any, dict[str, str]]:
    """Turn submitted fields back into a JSON payload: numbers and booleans get their JSON
    types, empty optional fields are left out. Returns (payload, errors by field name)."""
    errors: dict[str, str] = {}
    payload = _parse(schema, original, ROOT, True, data, errors)
    return (None if payload is _MISSING else payload), errors


def payload_from_json(text: str) -> tuple[Any, dict[str, str]]:
    """The "Edit as JSON" alternative: the whole payload as one JSON document."""
    try:
        return json.loads(text), {}
    except ValueError as exc:
        return None, {ROOT: f"Enter valid JSON ({exc})."}


def payload_json_text(payload: Any) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False)


def form_data_for(schema: Any, payload: Any) -> dict[str, str]:
    """What a browser would submit for the untouched, prefilled form (tests use it)."""
    data: dict[str, str] = {}
    for f in payload_fields(schema, payload):
        if f.widget == "checkbox":
            if f.checked:
                data[f.name] = "true"
        elif not f.is_group:
            data[f.name] = f.value
    return data


@dataclass
class ModifyForm:
    """The whole Modify form: generated fields, errors no field could take, and the
    "Edit as JSON" alternative."""

    fields: list[FormField]
    summary: dict[str, str]
    json_text: str
    use_json: bool

    @property
    def json_only(self) -> bool:
        """The whole payload is already one JSON field: no separate JSON editor needed."""
        return len(self.fields) == 1 and self.fields[0].name == ROOT


def modify_form(
    schema: Any,
    payload: Any,
    *,
    data: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> ModifyForm:
    """The form prefilled with `payload`, or re-shown with the submitted `data` and the
    service's `errors` (keyed like `payload.amount`)."""
    payload_errors = {k: v for k, v in (errors or {}).items() if k.split(".")[0] == ROOT}
    use_json = bool(data and data.get("use_json"))
    fields = payload_fields(schema, payload, data=data or None)
    summary = payload_errors if use_json else attach_errors(fields, payload_errors)
    json_text = str(data.get("payload_json", "")) if data else payload_json_text(payload)
    return ModifyForm(fields=fields, summary=summary, json_text=json_text, use_json=use_json)


def modify_payload(
    schema: Any, original: Any, data: Mapping[str, Any]
) -> tuple[Any, dict[str, str]]:
    """The edited payload from a submitted Modify form: the JSON alternative when the
    reviewer chose it, else the generated fields."""
    try:
        if data.get("use_json"):
            payload, errors = payload_from_json(str(data.get("payload_json", "")))
        else:
            payload, errors = payload_from_form(schema, data, original=original)
    except RecursionError:
        return None, {ROOT: f"Nested deeper than {MAX_DEPTH} levels."}
    if not errors:
        try:
            check_storable(payload)
        except ValidationFailed as exc:
            return None, {ROOT: next(iter((exc.errors or {}).values()), exc.detail)}
    return payload, errors
