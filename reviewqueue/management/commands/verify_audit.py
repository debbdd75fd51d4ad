import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.models import Queue
from reviewqueue.selectors.audit_verify import audit_coverage, audit_verify


class Command(BaseCommand):
    help = (
        "Check the audit trail: recompute every chain's hashes, look for missing, reordered "
        "and edited events and a removed tail; check that every decided item has its events "
        "(created, decided). Prints each chain's head (record it elsewhere as an anchor) and "
        "every problem; exits 1 if there is any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", help="check only this queue's chain (its slug)")

    def handle(self, *args: Any, queue: str | None, **options: Any) -> None:
        chain = None
        if queue:
            found = Queue.objects.filter(slug=queue).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"There is no queue '{queue}'.", returncode=2)
            chain = found
        started = time.monotonic()
        chains = events = problems = 0
        for report in audit_verify(chain=chain):
            chains += 1
            events += report.events
            problems += report.problem_count
            name = f"queue {report.queue}" if report.queue else "no queue"
            if report.chain and not report.queue:
                name = "a queue that no longer exists"
            head = (
                f"head seq {report.head_seq} {report.head_hash}"
                if report.head_seq is not None
                else "no head"
            )
            verdict = "ok" if not report.problem_count else f"{report.problem_count} problem(s)"
            self.stdout.write(
                f"chain {report.chain} ({name}): {report.events} events, {head}: {verdict}"
            )
            for p in report.problems:
                where = f"seq {p.seq}" + (f" id {p.id}" if p.id is not None else "")
                self.stdout.write(f"  chain {p.chain} {where}: {p.kind}: {p.detail}")
            if report.problem_count > len(report.problems):
                self.stdout.write(f"  ... and {report.problem_count - len(report.problems)} more")
        coverage = audit_coverage(chain=chain)
        problems += coverage.uncovered_count
        verdict = (
            "every one has its events"
            if not coverage.uncovered_count
            else f"{coverage.uncovered_count} lack events"
        )
        self.stdout.write(f"coverage: {coverage.decided} decided item(s): {verdict}")
        for u in coverage.uncovered:
            self.stdout.write(
                f"  item {u.recommendation_id} ({u.queue}, {u.external_id}): "
                f"no {', no '.join(u.missing)}"
            )
        if coverage.uncovered_count > len(coverage.uncovered):
            self.stdout.write(
                f"  ... and {coverage.uncovered_count - len(coverage.uncovered)} more"
            )
        elapsed = time.monotonic() - started
        summary = f"{chains} chain(s), {events} event(s) checked in {elapsed:.1f} s"
        if problems:
            raise CommandError(f"{summary}: {problems} problem(s) found.", returncode=1)
        self.stdout.write(f"{summary}: no problems.")
