from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from reviewqueue.exceptions import DomainError
from reviewqueue.services.audit import Actor
from reviewqueue.services.setup import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a source. Prints the key once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="the source's name")
        parser.add_argument("--name", default="", help="a label for the key")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(
        self, *args: Any, source: str, name: str, expires_in_days: int | None, **o: Any
    ) -> None:
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            key, plain = api_key_create(
                source_name=source,
                name=name,
                expires_at=expires,
                actor=Actor.system("create_api_key"),
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stderr.write(
            f"API key for source '{source}' (prefix {key.prefix}). It is shown once; only its hash is stored."
        )
        self.stdout.write(plain)
