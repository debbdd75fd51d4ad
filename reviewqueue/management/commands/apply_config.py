from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.exceptions import ConfigError
from reviewqueue.services.audit import Actor
from reviewqueue.services.setup import config_apply


class Command(BaseCommand):
    help = "Upsert action types, queues, sources and members from a TOML file (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the TOML config file")

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            result = config_apply(text=text, actor=Actor.system("apply_config"))
        except ConfigError as exc:
            lines = [f"{path}: {p}" for p in exc.problems]
            raise CommandError(
                "\n".join([*lines, f"{len(lines)} problem(s); nothing was changed."])
            ) from None
        summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in result.counts.items())
        self.stdout.write(f"Applied {path}: {summary}.")
        if not result.changes:
            self.stdout.write("Nothing changed.")
        # What changed, as the audit event records it (config.applied).
        for name, fields in result.changes.items():
            for field, change in fields.items():
                if "changed" in change:  # a secret: never its value
                    self.stdout.write(f"Changed {name}: {field}")
                    continue
                before, after = change.get("before"), change.get("after")
                self.stdout.write(f"Changed {name}: {field}: {before!r} -> {after!r}")
        for note in result.notes:
            self.stdout.write(f"Note: {note}")
