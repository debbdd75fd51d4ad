"""Reads of one row by a unique key."""

from typing import Any, TypeVar

from django.db.models import QuerySet

M = TypeVar("M")


def by_unique_key(qs: "QuerySet[Any, M]") -> M | None:
    """The row of `qs`, a lookup by a unique key (a primary key, a slug, a key prefix), or
    None. Not `.first()`: on an unordered query it adds `ORDER BY pk`, which Django compiles
    (with every join of a select_related) on each call for a row that is alone anyway; that
    costs 0.1-0.8 ms a lookup on the hot paths (tests/benchmarks/profiles/ceiling). Not
    `.get()`: asking for up to 21 rows and raising when there are none is for keys that must
    exist."""
    for row in qs.order_by()[:1]:
        return row
    return None
