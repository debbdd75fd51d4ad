# Incidents (issue 15 #4): recorded by admins against a queue, resolvable, never deleted.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# Never deletable, whichever path tries (the admin, a shell, raw SQL): the readiness gate
# and the history read them. Reuses the audit trail's refusal function (migration 0007).
REFUSE_DELETE = """
CREATE TRIGGER rq_incident_keep BEFORE DELETE ON reviewqueue_incident
    FOR EACH ROW EXECUTE FUNCTION rq_audit_refuse('incidents are never deleted; resolve them');
"""
ALLOW_DELETE = "DROP TRIGGER IF EXISTS rq_incident_keep ON reviewqueue_incident;"


class Migration(migrations.Migration):
    dependencies = [
        ("reviewqueue", "0010_attempt_detail"),
    ]

    operations = [
        migrations.CreateModel(
            name="Incident",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "severity",
                    models.CharField(
                        choices=[("high", "high"), ("medium", "medium"), ("low", "low")],
                        max_length=8,
                    ),
                ),
                ("summary", models.TextField()),
                ("reported_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                ("resolution", models.TextField(blank=True)),
                (
                    "queue",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="incidents",
                        to="reviewqueue.queue",
                    ),
                ),
                (
                    "recommendations",
                    models.ManyToManyField(
                        blank=True, related_name="incidents", to="reviewqueue.recommendation"
                    ),
                ),
                (
                    "reported_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "resolved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["queue", "-reported_at"], name="incident_queue_idx")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("severity__in", ["high", "medium", "low"])),
                        name="incident_severity_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("resolved_at__isnull", True), ("resolved_by__isnull", True)),
                            models.Q(
                                ("resolved_at__isnull", False), ("resolved_by__isnull", False)
                            ),
                            _connector="OR",
                        ),
                        name="incident_resolution_complete",
                    ),
                ],
            },
        ),
        migrations.RunSQL(REFUSE_DELETE, ALLOW_DELETE),
    ]
