"""Database constraints for configuration that must never be stored (issue 14, finding 2):
windows, leases and SLAs of at least 1, rates and thresholds in [0, 1], a sane attempt
count and timeout. Before this, the Django admin could store `breaker_window = 0` (the
breaker then divides by zero in the worker).

A database that already holds such a row is not "repaired" behind anyone's back: the check
below names every offending row and field, and the migration stops. Fix them with
apply_config or the admin (both audited; both refuse the bad values now), then migrate.
"""

from django.db import migrations, models
from django.db.models import Q

QUEUE_RULES = {
    "breaker_window": ~Q(breaker_window__gte=1),
    "lease_minutes": ~Q(lease_minutes__gte=1),
    "sla_minutes": Q(sla_minutes__lt=1),
    "hard_risk_ceiling": Q(hard_risk_ceiling__lt=0) | Q(hard_risk_ceiling__gt=1),
    "breaker_max_failure_rate": ~Q(
        breaker_max_failure_rate__gte=0, breaker_max_failure_rate__lte=1
    ),
    "breaker_max_qa_rejection_rate": ~Q(
        breaker_max_qa_rejection_rate__gte=0, breaker_max_qa_rejection_rate__lte=1
    ),
}
ACTION_TYPE_RULES = {
    "max_attempts": ~Q(max_attempts__gte=1),
    "timeout_seconds": ~Q(timeout_seconds__gt=0, timeout_seconds__lte=300),
}


def refuse_stored_violations(apps, schema_editor):
    problems = []
    for model_name, key, rules in (
        ("Queue", "slug", QUEUE_RULES),
        ("ActionType", "name", ACTION_TYPE_RULES),
    ):
        model = apps.get_model("reviewqueue", model_name)
        for field, bad in rules.items():
            for name, value in model.objects.filter(bad).values_list(key, field):
                problems.append(f"{model_name} '{name}': {field} = {value!r}")
    if problems:
        raise RuntimeError(
            "0009_config_constraints: these rows hold values the database will refuse from "
            "now on; correct them (apply_config or the admin), then migrate again:\n  "
            + "\n  ".join(problems)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reviewqueue", "0008_rate_limits"),
    ]

    operations = [
        migrations.RunPython(refuse_stored_violations, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="actiontype",
            constraint=models.CheckConstraint(
                condition=models.Q(("max_attempts__gte", 1)),
                name="action_type_max_attempts_positive",
                violation_error_message="max_attempts must be at least 1.",
            ),
        ),
        migrations.AddConstraint(
            model_name="actiontype",
            constraint=models.CheckConstraint(
                condition=models.Q(("timeout_seconds__gt", 0), ("timeout_seconds__lte", 300)),
                name="action_type_timeout_in_range",
                violation_error_message="timeout_seconds must be above 0 and at most 300.",
            ),
        ),
        migrations.AddConstraint(
            model_name="queue",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("hard_risk_ceiling__isnull", True),
                    models.Q(("hard_risk_ceiling__gte", 0), ("hard_risk_ceiling__lte", 1)),
                    _connector="OR",
                ),
                name="queue_hard_risk_ceiling_in_unit_interval",
                violation_error_message="hard_risk_ceiling must be empty or from 0 to 1.",
            ),
        ),
        migrations.AddConstraint(
            model_name="queue",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("breaker_max_failure_rate__gte", 0),
                    ("breaker_max_failure_rate__lte", 1),
                    ("breaker_max_qa_rejection_rate__gte", 0),
                    ("breaker_max_qa_rejection_rate__lte", 1),
                ),
                name="queue_breaker_rates_in_unit_interval",
                violation_error_message="Breaker rates must be from 0 to 1.",
            ),
        ),
        migrations.AddConstraint(
            model_name="queue",
            constraint=models.CheckConstraint(
                condition=models.Q(("breaker_window__gte", 1)),
                name="queue_breaker_window_positive",
                violation_error_message="breaker_window must be at least 1.",
            ),
        ),
        migrations.AddConstraint(
            model_name="queue",
            constraint=models.CheckConstraint(
                condition=models.Q(("lease_minutes__gte", 1)),
                name="queue_lease_minutes_positive",
                violation_error_message="lease_minutes must be at least 1.",
            ),
        ),
        migrations.AddConstraint(
            model_name="queue",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("sla_minutes__isnull", True), ("sla_minutes__gte", 1), _connector="OR"
                ),
                name="queue_sla_minutes_positive",
                violation_error_message="sla_minutes must be empty or at least 1.",
            ),
        ),
    ]
