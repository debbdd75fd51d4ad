"""Which statements psycopg prepares, with server-side binding on (config/settings.py).

A connection prepares a statement the second time it runs it, and PostgreSQL may then keep
one generic plan for it, chosen on the statistics of that moment. That is what makes the
lists and the claim fast. It is wrong for batch-shaped statements, whose text changes with
the number of rows or keys and whose best plan depends on the values: the batch ingest's
lookup of up to 1,000 external ids, prepared while the table was nearly empty, kept walking
the source's whole history by the wrong index (150 ms -> 1.4 s a batch after 60 batches,
until the connection was replaced). Each length of such a statement would also take a slot
in psycopg's cache of 100 prepared statements, pushing out the hot ones. So a statement
with more parameters than MAX_PREPARED_PARAMS is planned for its values on every run.
"""

from typing import Any

from django.db.backends.postgresql.base import ServerBindingCursor

# Above every fixed statement of ours (a decision with its callback and execution: ~60),
# below any list of keys worth the name.
MAX_PREPARED_PARAMS = 100


class PreparingCursor(ServerBindingCursor):
    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any
    ) -> Any:
        if prepare is None and params is not None and len(params) > MAX_PREPARED_PARAMS:
            prepare = False
        return super().execute(query, params, prepare=prepare, **kwargs)  # type: ignore[misc]
