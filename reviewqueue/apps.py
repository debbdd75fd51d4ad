from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ReviewQueueConfig(AppConfig):
    name = "reviewqueue"
    verbose_name = "Review Queue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from reviewqueue.lib.audit_chain import register_sqlite_functions

        # SQLite's audit chain trigger hashes with a Python function (migration 0007).
        connection_created.connect(register_sqlite_functions, dispatch_uid="rq_audit_hash")
