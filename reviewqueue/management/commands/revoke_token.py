from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.selectors.tokens import personal_token_find
from reviewqueue.services.audit import Actor
from reviewqueue.services.tokens import personal_token_revoke


class Command(BaseCommand):
    help = (
        "Revoke a personal API token at once, by its prefix (the part after 'rqp_'), the "
        "whole token, or its id. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("token", help="TOKEN_PREFIX_OR_ID")
        parser.add_argument("--reason", default="revoked by an operator")

    def handle(self, *args: Any, token: str, reason: str, **options: Any) -> None:
        found = personal_token_find(prefix_or_id=token)
        if found is None:
            raise CommandError(f"No single token matches '{token}'.")
        # The command runs as the operator of the installation: it may revoke any token.
        revoked = personal_token_revoke(
            token_id=found.pk,
            user=None,
            actor=Actor.system("revoke_token"),
            reason=reason,
        )
        owner = found.user.get_username()
        if revoked:
            self.stdout.write(f"Revoked token {found.prefix} of '{owner}'.")
        else:
            self.stdout.write(f"Token {found.prefix} of '{owner}' was already revoked.")
