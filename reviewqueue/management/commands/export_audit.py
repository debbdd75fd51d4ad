from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.exceptions import DomainError
from reviewqueue.selectors.audit_export import (
    AuditExportRequest,
    audit_export_lines,
    audit_export_request,
)


class Command(BaseCommand):
    help = (
        "Export the audit trail for a time range as JSON Lines, one event per line with its "
        "chain, seq, prev_hash and hash (the same lines as GET /api/v1/exports/audit.jsonl)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (inclusive)")
        parser.add_argument("--to", dest="end", help="day after the last, YYYY-MM-DD (exclusive)")
        parser.add_argument("--queue", help="only this queue's chain (its slug)")
        parser.add_argument("--tz", help="IANA time zone of the dates; default UTC")
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args: Any, start: str | None, end: str | None, **options: Any) -> None:
        params = {"from": start, "to": end, "queue": options["queue"], "tz": options["tz"]}
        try:
            request = audit_export_request(params=params)
        except DomainError as exc:
            problems = "; ".join(f"--{k}: {v}" for k, v in (exc.errors or {}).items())
            raise CommandError(problems or exc.detail) from None
        output = options["output"]
        if output:
            with open(output, "wb") as out:
                lines = self._write(out, request)
            self.stderr.write(f"{lines} event(s) written to {output}")
        else:
            # Every piece ends at a line's end, so it decodes whole.
            for piece in audit_export_lines(request):
                self.stdout.write(piece.decode(), ending="")

    def _write(self, out: BinaryIO, request: AuditExportRequest) -> int:
        lines = 0
        for piece in audit_export_lines(request):
            out.write(piece)
            lines += piece.count(b"\n")
        out.flush()
        return lines
