from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviewqueue", "0009_config_constraints"),
    ]

    operations = [
        migrations.AddField(
            model_name="executionattempt",
            name="detail",
            field=models.TextField(blank=True),
        ),
    ]
