"""Rate-limit counters: one row per limited thing (an API key, a username, a client address)
per fixed window, counted by services/ratelimit.py.

The table is UNLOGGED (migration 0008): counters need no crash safety, so writing one costs no
WAL flush, and after a crash PostgreSQL empties the table, which only hands everyone a fresh
window. It is not copied to streaming replicas either; a fail-over starts fresh windows too.
"""

from django.db import models


class RateLimitWindow(models.Model):
    # The primary key is also the conflict target of the counting INSERT ... ON CONFLICT.
    pk = models.CompositePrimaryKey("key", "window_start")
    key = models.CharField(max_length=200)  # "<scope>:<who>", e.g. "login-user:bob"
    window_start = models.DateTimeField()
    # Pruning deletes rows past this (no index: the table holds only recent windows, and an
    # index would cost every count a second write).
    window_end = models.DateTimeField()
    count = models.IntegerField()

    class Meta:
        db_table = "reviewqueue_ratelimitwindow"  # named in services/ratelimit.py's SQL
