"""Executions carry their queue and whether routing auto-approved them (copied from the
recommendation and its decision, both immutable), so the breaker walks one partial index
(queue, finished_at desc) instead of joining three tables and sorting a queue's history.

`queue` stays nullable: the previous version, still running while this is applied, writes
executions without it (README, Upgrades). Those few are not counted by the breaker until a
later release backfills again and makes the column required."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
UPDATE reviewqueue_execution e
SET queue_id = r.queue_id, by_policy = COALESCE(d.kind = 'policy', false)
FROM reviewqueue_recommendation r
LEFT JOIN reviewqueue_decision d ON d.recommendation_id = r.id
WHERE r.id = e.recommendation_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reviewqueue", "0022_source_list_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="by_policy",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="execution",
            name="queue",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="reviewqueue.queue",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RemoveIndex(
            model_name="execution",
            name="execution_finished_idx",
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(
                    ("by_policy", True), ("status__in", ["succeeded", "dead", "refused"])
                ),
                fields=["queue", "-finished_at"],
                name="execution_breaker_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("status__in", ["dead", "refused"])),
                fields=["-finished_at"],
                name="execution_dead_idx",
            ),
        ),
    ]
