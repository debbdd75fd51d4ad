"""Fast paths of ingest that must answer exactly as the slow ones: the content hash
(idempotent replays compare it with hashes stored long ago), RE2 pattern checks, and the
positional construction of a new item."""

import pytest
import re2
from django.db.models.expressions import DatabaseDefault

from reviewqueue.lib.bulk import new_row
from reviewqueue.lib.canonical import _dumps, _normalise, canonical_json
from reviewqueue.lib.schema import FastValidator
from reviewqueue.models import Queue, Recommendation


def slow_canonical(value):
    return _dumps(_normalise(value)).encode()


@pytest.mark.parametrize(
    "value",
    [
        {"amount": 40.0, "order_id": "A-1"},
        {"amount": 40, "order_id": "A-1"},
        {"amount": 40.05, "note": "v1.0 of the form", "n": [1.0, 2.5, -0.0]},
        {"big": 1e16, "bigger": 1.2345678901234568e17, "small": 1.5e-07},
        {"text": "e+ and .0 inside strings", "x": [{"y": 3.0}], "z": "ünïcode"},
        {"plain": "nothing to normalise", "ratio": 0.97, "list": [1, 2, 3], "t": True},
        [],
        "just text",
    ],
)
def test_the_fast_canonical_text_is_the_normalised_one(value):
    assert canonical_json(value) == slow_canonical(value)


def test_whole_floats_hash_as_their_integers():
    assert canonical_json({"amount": 40.0}) == canonical_json({"amount": 40}) == b'{"amount":40}'
    assert canonical_json({"n": 1e16}) == b'{"n":10000000000000000}'
    assert canonical_json({"n": 40.05}) == b'{"n":40.05}'


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"^[A-Z]-\d+$", "A-123"),
        (r"^[A-Z]-\d+$", "A-12x"),
        (r"^é+$", "ééé"),
        (r"^é+$", "éèé"),
        (r"ß", "straße"),
        (r"^$", ""),
        (r"(a+)+$", "a" * 28 + "!"),
    ],
)
def test_the_validators_pattern_check_answers_as_re2_search(pattern, text):
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": pattern}}}
    expected = re2.compile(pattern).search(text) is not None
    errors = FastValidator(schema).errors({"s": text})
    assert (errors == {}) is expected


def test_a_new_row_is_what_the_keyword_constructor_makes():
    queue = Queue(pk=7, slug="refunds")
    given = {"external_id": "e-1", "payload": {"amount": 5}, "confidence": 0.5, "flags": []}
    fast = new_row(Recommendation, queue=queue, source_id=3, **given)
    slow = Recommendation(queue=queue, source_id=3, **given)
    for field in Recommendation._meta.concrete_fields:
        a, b = getattr(fast, field.attname), getattr(slow, field.attname)
        if isinstance(b, DatabaseDefault):
            assert isinstance(a, DatabaseDefault), field.name
        elif callable(field.default):  # uuid7, timezone.now: a fresh value each time
            assert type(a) is type(b), field.name
        else:
            assert a == b, field.name
    assert fast.queue is queue and fast.queue_id == 7 and fast._state.adding


def test_a_new_row_refuses_a_field_the_model_does_not_have():
    with pytest.raises(TypeError, match="no field colour"):
        new_row(Recommendation, colour="blue")
