"""The items list (issue 17 #1): pg_trgm and the search text function, one index per sort of
the list, blind items of a queue, and saved views.

Depends only on 0015: another branch adds a 0016 in parallel; chaining them changes nothing
here but `dependencies`.
"""

import django.db.models.deletion
import django.db.models.expressions
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

SEARCH_TEXT_FUNCTION = """
CREATE OR REPLACE FUNCTION reviewqueue_item_text(external_id text, rationale text, payload jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT external_id || ' ' || coalesce(rationale, '') || ' ' || coalesce(
    (SELECT string_agg(v #>> '{}', ' ')
       FROM jsonb_path_query(payload, 'strict $.**') AS v
      WHERE jsonb_typeof(v) NOT IN ('object', 'array')),
    '')
$$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reviewqueue", "0016_guidelines"),
    ]

    operations = [
        # pg_trgm ships with PostgreSQL (a trusted extension: no superuser needed).
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            reverse_sql=migrations.RunSQL.noop,
        ),
        # The text `q` searches: the external id, the rationale and the payload's scalar
        # values (keys left out: searching "amount" should not match every refund). IMMUTABLE,
        # so an index can be built over it; it reads nothing but its arguments.
        migrations.RunSQL(
            SEARCH_TEXT_FUNCTION,
            reverse_sql="DROP FUNCTION IF EXISTS reviewqueue_item_text(text, text, jsonb)",
        ),
        migrations.CreateModel(
            name="SavedView",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=60)),
                ("query", models.TextField(blank=True)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddIndex(
            model_name="recommendation",
            index=models.Index(
                models.F("queue"),
                django.db.models.expressions.CombinedExpression(
                    models.F("priority"), "*", models.Value(-1)
                ),
                models.F("created_at"),
                models.F("id"),
                name="rec_list_priority_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="recommendation",
            index=models.Index(
                models.F("queue"),
                models.F("status"),
                django.db.models.expressions.CombinedExpression(
                    models.F("priority"), "*", models.Value(-1)
                ),
                models.F("created_at"),
                models.F("id"),
                name="rec_list_status_priority_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="recommendation",
            index=models.Index(fields=["queue", "created_at", "id"], name="rec_list_created_idx"),
        ),
        migrations.AddIndex(
            model_name="recommendation",
            index=models.Index(fields=["queue", "risk_score", "id"], name="rec_list_risk_idx"),
        ),
        migrations.AddIndex(
            model_name="recommendation",
            index=models.Index(
                models.F("queue"),
                models.Func(
                    models.F("due_at"),
                    output_field=models.DateTimeField(),
                    template="COALESCE(%(expressions)s, 'infinity'::timestamptz)",
                ),
                models.F("id"),
                name="rec_list_due_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="recommendation",
            index=models.Index(
                condition=models.Q(("route", "shadow")),
                fields=["queue"],
                name="rec_shadow_route_idx",
            ),
        ),
        # `q`: ILIKE '%...%' over the search text (selectors/items.py); pg_trgm answers it
        # from this index. Written as SQL: Django declares an operator class on an expression
        # only with contrib.postgres installed.
        migrations.RunSQL(
            "CREATE INDEX rec_search_trgm_idx ON reviewqueue_recommendation USING gin "
            "(reviewqueue_item_text(external_id, rationale, payload) gin_trgm_ops)",
            reverse_sql="DROP INDEX IF EXISTS rec_search_trgm_idx",
        ),
        migrations.AddField(
            model_name="savedview",
            name="queue",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="reviewqueue.queue",
            ),
        ),
        migrations.AddField(
            model_name="savedview",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="savedview",
            constraint=models.UniqueConstraint(
                fields=("user", "queue", "name"), name="uniq_saved_view_name"
            ),
        ),
    ]
