"""Which statements a connection prepares (config/prepared.py): the fixed ones, so their
plans are kept; never a batch-shaped one (a list of keys), whose best plan depends on the
values and whose every length would take a slot in the cache."""

import pytest
from django.db import connection

from config.prepared import MAX_PREPARED_PARAMS
from reviewqueue.models import Recommendation

pytestmark = pytest.mark.skipif(
    not connection.settings_dict["OPTIONS"].get("server_side_binding"),
    reason="DATABASE_PREPARED_STATEMENTS=0: nothing is prepared",
)


def prepared_texts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [text for (text,) in cursor.fetchall()]


def test_a_repeated_statement_is_prepared_and_a_list_of_keys_is_not(db):
    short = [f"short-{i}" for i in range(3)]
    long = [f"long-{i}" for i in range(MAX_PREPARED_PARAMS + 1)]
    for _ in range(3):  # prepare_threshold is 2
        list(Recommendation.objects.filter(external_id__in=short).values_list("id"))
        list(Recommendation.objects.filter(external_id__in=long).values_list("id"))
    lookups = [t for t in prepared_texts() if '"external_id" IN' in t]
    assert len(lookups) == 1, lookups
    assert lookups[0].count("$") == len(short)
