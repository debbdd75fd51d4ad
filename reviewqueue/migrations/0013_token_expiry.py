# Personal tokens expire (issue 14 #4). Tokens that existed before get the default lifetime
# from the moment this runs: none of them keeps working for ever.

from django.db import migrations, models

import reviewqueue.models.config


class Migration(migrations.Migration):
    dependencies = [
        ("reviewqueue", "0011_incidents"),
    ]

    operations = [
        migrations.AddField(
            model_name="personaltoken",
            name="expires_at",
            field=models.DateTimeField(default=reviewqueue.models.config.token_expiry_default),
        ),
    ]
