"""`manage.py verify_scores [--fix]`: recompute every total from the ledger,
every solve count from the solves, and every question tally (public solvers,
dynamic value) from the solves."""

import sys

from django.core.management.base import BaseCommand, CommandParser

from scoring.ledger import scores_verify


class Command(BaseCommand):
    help = (
        "Compare each principal's ledger total, last solve and solve count with "
        "the ledger and the solves, and each question's tally with its solves; "
        "--fix repairs drift. Exits 1 when drift was found (and not fixed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair the totals.")

    def handle(self, *args, fix: bool, **options) -> None:
        drift = scores_verify(fix=fix)
        for row in drift:
            self.stdout.write(row["message"])
        principals = sum(row["kind"] == "principal" for row in drift)
        tallies = len(drift) - principals
        what = f"{principals} principal(s)" + (
            f" and {tallies} question tally(ies)" if tallies else ""
        )
        if not drift:
            self.stdout.write(
                self.style.SUCCESS("No drift: every total matches its ledger.")
            )
        elif fix:
            self.stdout.write(self.style.WARNING(f"Repaired {what}."))
        else:
            self.stdout.write(
                self.style.ERROR(f"{what} drifted; run with --fix to repair.")
            )
            sys.exit(1)
