from django.apps import AppConfig


class ReviewQueueConfig(AppConfig):
    name = "reviewqueue"
    verbose_name = "Review Queue"
    default_auto_field = "django.db.models.BigAutoField"
