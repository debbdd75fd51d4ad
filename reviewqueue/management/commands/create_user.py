import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.exceptions import DomainError
from reviewqueue.services.audit import Actor
from reviewqueue.services.setup import user_create
from reviewqueue.states import Role


class Command(BaseCommand):
    help = (
        "Create a user (or update one's role, password and queues). The password comes from "
        "$REVIEWQUEUE_PASSWORD, else it is prompted for."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument(
            "--queues",
            default="",
            help="comma-separated queue slugs to review (not for auditors: they read every "
            "queue and review none)",
        )

    def handle(self, *args: Any, username: str, role: str, queues: str, **o: Any) -> None:
        password = os.environ.get("REVIEWQUEUE_PASSWORD")
        if not password:
            try:
                password = getpass.getpass("Password: ")
                if password != getpass.getpass("Password (again): "):
                    raise CommandError("The passwords do not match.")
            except EOFError:
                raise CommandError(
                    "No password: set REVIEWQUEUE_PASSWORD or run interactively."
                ) from None
        slugs = [s.strip() for s in queues.split(",") if s.strip()]
        try:
            user, created = user_create(
                username=username,
                role=role,
                password=password,
                queues=slugs,
                actor=Actor.system("create_user"),
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} {role} '{user.username}'" + (f" in {', '.join(slugs)}" if slugs else "")
        )
