from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.models import User
from reviewqueue.services.audit import Actor
from reviewqueue.services.setup import personal_token_create


class Command(BaseCommand):
    help = (
        "Create a personal API token for a user (Authorization: Token <token>). "
        "Prints it once, alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label for the token")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        token, plain = personal_token_create(
            user=user, name=name, actor=Actor.system("create_token")
        )
        self.stderr.write(f"Token for '{username}' (prefix {token.prefix}); shown once.")
        self.stdout.write(plain)
