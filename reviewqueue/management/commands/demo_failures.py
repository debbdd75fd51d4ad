"""The demo's failure burst: cancellations the demo target refuses, sent by the demo source
through the ingest service. On a supervised queue they auto-execute, fail (422: subscription
locked), and the breaker steps the queue back to approval by itself."""

import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.management.commands.seed_demo import cancellation
from reviewqueue.models import Source
from reviewqueue.services.ingest import recommendation_ingest_batch


class Command(BaseCommand):
    help = "Send a burst of cancellations that the demo target refuses (for the breaker demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=12)

    def handle(self, *args: Any, count: int, **options: Any) -> None:
        source = Source.objects.filter(name="support-agent").first()
        if source is None:
            raise CommandError("No demo source: run scripts/run (or manage.py seed_demo) first.")
        if not 1 <= count <= 1000:
            raise CommandError("--count must be between 1 and 1000.")
        rng = random.Random()
        start = rng.randrange(10**6)
        items = [cancellation(start + i, rng, locked=True, sure=True) for i in range(count)]
        results = recommendation_ingest_batch(source=source, items=items)
        routes: dict[str, int] = {}
        for r in results:
            label = f"routed {r.route}" if r.route else f"refused ({r.status}: {r.detail})"
            routes[label] = routes.get(label, 0) + 1
        self.stdout.write(
            f"Sent {count} cancellations of locked subscriptions: "
            + ", ".join(f"{n} {k}" for k, n in sorted(routes.items()))
            + ". Watch /queues/cancellations/ — a supervised queue steps back to approval."
        )
