"""The Modify form builder: JSON Schema -> fields -> JSON payload. Pure, no database."""

import pytest

from reviewqueue.web.forms import (
    attach_errors,
    form_data_for,
    modify_form,
    modify_payload,
    payload_fields,
    payload_from_form,
)

ADDRESS_SCHEMA = {
    "type": "object",
    "required": ["account_id", "address", "amount"],
    "properties": {
        "account_id": {"type": "string", "minLength": 3, "maxLength": 20, "pattern": "^AC-"},
        "amount": {"type": "number", "minimum": 0, "maximum": 1000},
        "count": {"type": "integer", "minimum": 1},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "urgent": {"type": "boolean"},
        "address": {
            "type": "object",
            "required": ["line1"],
            "properties": {
                "line1": {"type": "string", "title": "Street"},
                "line2": {"type": "string"},
                "geo": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                },
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "target": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "extra": {"type": "object"},
        "note": {"type": "string"},
    },
}


def by_name(fields):
    return {f.name: f for f in fields if f.widget != "group_end"}


def test_fields_follow_the_schema_types():
    payload = {
        "account_id": "AC-1",
        "amount": 40.0,
        "count": 2,
        "currency": "EUR",
        "urgent": True,
        "address": {"line1": "1 Main St"},
        "tags": ["a", "b"],
        "target": 7,
        "extra": {"anything": [1]},
    }
    fields = payload_fields(ADDRESS_SCHEMA, payload)
    f = by_name(fields)
    assert f["payload.account_id"].widget == "text"
    assert f["payload.account_id"].attrs == {
        "minlength": "3",
        "maxlength": "20",
        "pattern": ".*(?:^AC-).*",
    }
    assert f["payload.account_id"].required and f["payload.account_id"].value == "AC-1"
    assert f["payload.amount"].widget == "number" and f["payload.amount"].value == "40.0"
    assert f["payload.amount"].attrs == {"min": "0", "max": "1000", "step": "any"}
    assert f["payload.count"].attrs == {"min": "1", "step": "1"} and not f["payload.count"].required
    assert f["payload.currency"].widget == "select"
    assert f["payload.currency"].choices == [("", "—"), ("EUR", "EUR"), ("USD", "USD")]
    assert f["payload.urgent"].widget == "checkbox" and f["payload.urgent"].checked
    assert f["payload.address"].widget == "group_start"
    assert f["payload.address.line1"].required and f["payload.address.line1"].help == "Street"
    assert f["payload.address.geo.lat"].value == ""
    for name in ("payload.tags", "payload.target", "payload.extra"):
        assert f[name].widget == "json", name
    assert f["payload.tags"].value == '[\n  "a",\n  "b"\n]'
    widgets = [x.widget for x in fields]
    assert widgets.count("group_start") == widgets.count("group_end") == 2  # address, geo


def test_untouched_form_round_trips_to_the_same_payload():
    payload = {
        "account_id": "AC-1",
        "amount": 40.0,
        "count": 2,
        "currency": "USD",
        "urgent": False,
        "address": {"line1": "1 Main St", "line2": "", "geo": {"lat": 52.5, "lon": 13}},
        "tags": ["a", "b"],
        "target": "x",
        "extra": {"anything": [1, {"deep": None}]},
        "note": "keep",
    }
    data = form_data_for(ADDRESS_SCHEMA, payload)
    assert payload_from_form(ADDRESS_SCHEMA, data, original=payload) == (payload, {})


def test_minimal_payload_round_trips_without_inventing_keys():
    payload = {"account_id": "AC-1", "amount": 1, "address": {"line1": "x"}}
    data = form_data_for(ADDRESS_SCHEMA, payload)
    assert payload_from_form(ADDRESS_SCHEMA, data, original=payload) == (payload, {})


def test_submitted_strings_get_their_json_types():
    original = {"account_id": "AC-1", "amount": 40.0, "address": {"line1": "x"}}
    data = form_data_for(ADDRESS_SCHEMA, original)
    data.update(
        {
            "payload.amount": "25.50",
            "payload.count": "3",
            "payload.urgent": "true",
            "payload.currency": "EUR",
            "payload.address.geo.lat": "1e1",
            "payload.tags": '["x"]',
            "payload.note": "  spaced  ",
        }
    )
    payload, errors = payload_from_form(ADDRESS_SCHEMA, data, original=original)
    assert errors == {}
    assert payload == {
        "account_id": "AC-1",
        "amount": 25.5,
        "count": 3,
        "currency": "EUR",
        "urgent": True,
        "address": {"line1": "x", "geo": {"lat": 10.0}},
        "tags": ["x"],
        "note": "  spaced  ",  # strings are kept as typed
    }
    assert isinstance(payload["count"], int) and isinstance(payload["amount"], float)


def test_whole_numbers_stay_integers_and_big_integers_stay_exact():
    schema = {"type": "object", "properties": {"n": {"type": "number"}, "i": {"type": "integer"}}}
    data = {"payload.n": "40", "payload.i": "123456789012345678901234567890"}
    payload, errors = payload_from_form(schema, data, original={})
    assert errors == {} and payload == {"n": 40, "i": 123456789012345678901234567890}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("payload.amount", "lots", "Enter a number."),
        ("payload.amount", "nan", "Enter a number."),
        ("payload.amount", "1_000", "Enter a number."),
        ("payload.count", "2.5", "Enter a whole number."),
        ("payload.tags", "[1,", "Enter valid JSON"),
    ],
)
def test_unparseable_values_are_errors_on_their_field(name, text, message):
    original = {"account_id": "AC-1", "amount": 1, "address": {"line1": "x"}}
    data = {**form_data_for(ADDRESS_SCHEMA, original), name: text}
    _payload, errors = payload_from_form(ADDRESS_SCHEMA, data, original=original)
    assert list(errors) == [name] and errors[name].startswith(message)


def test_cleared_required_field_is_left_out_so_the_service_says_required():
    original = {"account_id": "AC-1", "amount": 1, "address": {"line1": "x"}}
    data = {**form_data_for(ADDRESS_SCHEMA, original), "payload.amount": ""}
    payload, errors = payload_from_form(ADDRESS_SCHEMA, data, original=original)
    assert errors == {} and "amount" not in payload


def test_unchecked_optional_box_absent_in_the_original_stays_absent():
    original = {"account_id": "AC-1", "amount": 1, "address": {"line1": "x"}}
    payload, _ = payload_from_form(
        ADDRESS_SCHEMA, form_data_for(ADDRESS_SCHEMA, original), original=original
    )
    assert "urgent" not in payload
    payload, _ = payload_from_form(
        ADDRESS_SCHEMA,
        form_data_for(ADDRESS_SCHEMA, {**original, "urgent": True}),
        original={**original, "urgent": True},
    )
    assert payload["urgent"] is True


def test_objects_with_keys_the_schema_does_not_list_become_json():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    (only,) = payload_fields(schema, {"a": "x", "b": 1})
    assert only.name == "payload" and only.widget == "json"
    payload, errors = payload_from_form(
        schema, {"payload": '{"a": "y", "b": 2}'}, original={"a": "x", "b": 1}
    )
    assert payload == {"a": "y", "b": 2} and errors == {}


def test_dotted_property_names_and_mismatched_values_fall_back_to_json():
    schema = {
        "type": "object",
        "properties": {"x": {"type": "object", "properties": {"a.b": {"type": "string"}}}},
    }
    assert by_name(payload_fields(schema, {"x": {"a.b": "1"}}))["payload.x"].widget == "json"
    schema = {"type": "object", "properties": {"n": {"type": "number"}}}
    assert by_name(payload_fields(schema, {"n": "12"}))["payload.n"].widget == "json"


def test_non_string_enums_round_trip_through_json_option_values():
    schema = {"type": "object", "properties": {"level": {"type": "integer", "enum": [1, 2, 3]}}}
    field = by_name(payload_fields(schema, {"level": 2}))["payload.level"]
    assert field.widget == "select" and field.value == "2"
    assert payload_from_form(schema, {"payload.level": "3"}, original={"level": 2}) == (
        {"level": 3},
        {},
    )


def test_errors_land_on_the_nearest_field_and_the_rest_are_returned():
    fields = payload_fields(ADDRESS_SCHEMA, {"address": {}})
    left = attach_errors(
        fields,
        {
            "payload.amount": "Must be at least 0.",
            "payload.address.line1": "This field is required.",
            "payload.tags.0": "Must be of type string.",
            "payload.address.zzz": "Unknown field.",
            "payload": "The edited payload is the same as the original.",
        },
    )
    f = by_name(fields)
    assert f["payload.amount"].error == "Must be at least 0."
    assert f["payload.address.line1"].error == "This field is required."
    assert f["payload.tags"].error == "0: Must be of type string."
    assert f["payload.address"].error == "zzz: Unknown field."
    assert left == {"payload": "The edited payload is the same as the original."}


def test_modify_form_re_shows_submitted_values_and_json_mode():
    original = {"account_id": "AC-1", "amount": 1, "address": {"line1": "x"}}
    data = {**form_data_for(ADDRESS_SCHEMA, original), "payload.amount": "-3"}
    form = modify_form(
        ADDRESS_SCHEMA, original, data=data, errors={"payload.amount": "Must be at least 0."}
    )
    amount = by_name(form.fields)["payload.amount"]
    assert amount.value == "-3" and amount.error == "Must be at least 0."
    assert form.summary == {} and not form.use_json
    json_data = {"use_json": "1", "payload_json": '{"amount": -3}'}
    form = modify_form(
        ADDRESS_SCHEMA, original, data=json_data, errors={"payload.amount": "Must be at least 0."}
    )
    assert form.use_json and form.json_text == '{"amount": -3}'
    assert form.summary == {"payload.amount": "Must be at least 0."}
    assert modify_payload(ADDRESS_SCHEMA, original, json_data) == ({"amount": -3}, {})
    assert modify_payload(ADDRESS_SCHEMA, original, {"use_json": "1", "payload_json": "{"})[1]


def test_the_json_alternative_refuses_what_storage_refuses():
    from reviewqueue.web.forms import ROOT, modify_payload

    for text in (
        '{"a": "x\\u0000"}',
        '{"a": 1e400}',
        "[" * 50 + "]" * 50,
        "[" * 50_000 + "]" * 50_000,
    ):
        payload, errors = modify_payload(
            {"type": "object"}, {}, {"use_json": "1", "payload_json": text}
        )
        assert payload is None and ROOT in errors, text[:20]
