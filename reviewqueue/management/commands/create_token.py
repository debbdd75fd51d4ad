from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.exceptions import ValidationFailed
from reviewqueue.models import User
from reviewqueue.models.config import TOKEN_DAYS_DEFAULT, TOKEN_DAYS_MAX
from reviewqueue.services.audit import Actor
from reviewqueue.services.tokens import personal_token_create


class Command(BaseCommand):
    help = (
        "Create a personal API token for a user (Authorization: Token <token>). "
        "Prints it once, alone on the last line; only its hash is stored. "
        f"It expires after --days (default {TOKEN_DAYS_DEFAULT}, at most {TOKEN_DAYS_MAX})."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label for the token")
        parser.add_argument(
            "--days",
            type=int,
            default=TOKEN_DAYS_DEFAULT,
            help=f"days until it expires (default {TOKEN_DAYS_DEFAULT})",
        )

    def handle(self, *args: Any, username: str, name: str, days: int, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        try:
            token, plain = personal_token_create(
                user=user, name=name, days=days, actor=Actor.system("create_token")
            )
        except ValidationFailed as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            f"Token for '{username}' (prefix {token.prefix}, expires "
            f"{token.expires_at:%Y-%m-%d %H:%M} UTC); shown once."
        )
        self.stdout.write(plain)
