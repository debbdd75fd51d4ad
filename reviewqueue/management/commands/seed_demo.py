import random
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import F

from reviewqueue.models import Recommendation, Source
from reviewqueue.services.audit import Actor
from reviewqueue.services.ingest import recommendation_ingest_batch
from reviewqueue.services.setup import api_key_create, config_apply, user_create

MODELS = [
    ("support-agent", "2026-09-01"),
    ("support-agent", "2026-10-01"),
    ("support-agent", "2026-11-01"),
]
PROMPTS = ["refund-v6", "refund-v7", "refund-v8"]
REASONS = [
    "Customer was charged twice for the same order; the second charge has no matching shipment.",
    "Parcel marked lost by the carrier 9 days ago; policy allows a full refund after 7 days.",
    "Customer reports a damaged item and attached photos; partial refund matches policy table B.",
    "Subscription renewed after the customer cancelled within the grace period.",
]


def _refund(i: int, rng: random.Random) -> dict[str, Any]:
    model = rng.choice(MODELS)
    risk = round(min(1.0, max(0.0, rng.betavariate(2, 4))), 3)
    order = f"A-{10000 + i}"
    return {
        "queue": "refunds",
        "external_id": f"demo-ticket-{i}:refund",
        "action": {
            "type": "refund.issue",
            "payload": {
                "order_id": order,
                "amount": round(rng.uniform(5, 400), 2),
                "currency": rng.choice(["EUR", "USD", "GBP"]),
                "note": "Refund per policy",
            },
        },
        "confidence": round(min(1.0, max(0.0, rng.betavariate(8, 2))), 3),
        "risk_score": risk,
        "rationale": rng.choice(REASONS),
        "evidence": [
            {
                "title": f"Order {order}",
                "url": f"https://crm.example.com/orders/{order}",
                "snippet": "Two captures of the same amount, 3 minutes apart.",
            },
            {"title": "Refund policy §4.2", "url": "https://wiki.example.com/policy/refunds#4-2"},
        ],
        "model": {"name": model[0], "version": model[1]},
        "prompt_version": rng.choice(PROMPTS),
        "priority": rng.choice([0, 0, 0, 0, 1, 2]),
        "metadata": {"customer_tier": rng.choice(["bronze", "silver", "gold"])},
    }


def _address(i: int, rng: random.Random) -> dict[str, Any]:
    model = rng.choice(MODELS)
    return {
        "queue": "accounts",
        "external_id": f"demo-ticket-{i}:address",
        "action": {
            "type": "account.update_address",
            "payload": {
                "account_id": f"C-{5000 + i}",
                "address": {
                    "line1": f"{rng.randint(1, 200)} Harbour Street",
                    "city": rng.choice(["Leeds", "Ghent", "Lyon"]),
                    "postcode": f"{rng.randint(1000, 9999)}",
                    "country": rng.choice(["GB", "BE", "FR"]),
                },
            },
        },
        "confidence": round(min(1.0, max(0.0, rng.betavariate(9, 1.5))), 3),
        "risk_score": round(min(1.0, max(0.0, rng.betavariate(2, 5))), 3),
        "rationale": "Customer asked in chat to update their delivery address; identity verified by OTP.",
        "evidence": [{"title": "Chat transcript", "url": f"https://support.example.com/chats/{i}"}],
        "model": {"name": model[0], "version": model[1]},
        "prompt_version": "address-v2",
    }


class Command(BaseCommand):
    help = "Load the demo config, users, an API key and a few hundred recommendations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, count: int, seed: int, **options: Any) -> None:
        actor = Actor.system("seed_demo")
        passwords = {}
        # Users first: the config's [[members]] name them.
        for username, role in (("admin", "admin"), ("alice", "senior"), ("bob", "reviewer")):
            passwords[username] = f"demo-{secrets.token_urlsafe(9)}"
            user_create(
                username=username, role=role, password=passwords[username], queues=[], actor=actor
            )
        config = Path(settings.BASE_DIR) / "demo" / "reviewqueue.toml"
        config_apply(text=config.read_text(), actor=actor)
        source = Source.objects.get(name="support-agent")
        if not Recommendation.objects.filter(source=source).exists():
            rng = random.Random(seed)
            items = [_refund(i, rng) if i % 3 else _address(i, rng) for i in range(count)]
            results = recommendation_ingest_batch(source=source, items=items)
            # Spread arrival times over the last two days so ages and SLAs look real.
            for r in results:
                if r.recommendation_id:
                    delta = timedelta(minutes=rng.randint(1, 240))
                    Recommendation.objects.filter(pk=r.recommendation_id).update(
                        created_at=F("created_at") - delta,
                        updated_at=F("updated_at") - delta,
                        due_at=F("due_at") - delta,
                    )
            self.stdout.write(
                f"Created {sum(r.status == 201 for r in results)} demo recommendations."
            )
        _, key = api_key_create(source_name="support-agent", name="demo", actor=actor)
        self.stdout.write("")
        self.stdout.write("Demo accounts (passwords are new on every start):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<6} {password}")
        self.stdout.write(f"API key for source 'support-agent':\n  {key}")
        (Path(settings.VAR_DIR) / "demo-api-key").write_text(key + "\n")
