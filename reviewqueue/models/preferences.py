"""A person's preferences that are not configuration: the items list's saved views."""

from django.db import models
from django.utils import timezone

# The row of a person and queue that remembers the last filters used has this (empty) name.
LAST_FILTERS = ""


class SavedView(models.Model):
    """A named set of filters of a queue's items list, or (name "") the last filters used.
    Preferences, not state of the product: not audited."""

    user = models.ForeignKey("reviewqueue.User", on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey("reviewqueue.Queue", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60, blank=True)
    # The list's query string, normalised by selectors/items.ItemsRequest.query_string.
    query = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "queue", "name"], name="uniq_saved_view_name"),
        ]

    def __str__(self) -> str:
        return self.name or "(last filters)"
