"""`manage.py verify_scores [--fix]`: recompute every total from the ledger and
every solve count from the solves."""

import sys

from django.core.management.base import BaseCommand, CommandParser

from scoring.ledger import scores_verify


class Command(BaseCommand):
    help = (
        "Compare each principal's score, last solve and solve count with the "
        "ledger and the solves; "
        "--fix repairs drift. Exits 1 when drift was found (and not fixed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair the totals.")

    def handle(self, *args, fix: bool, **options) -> None:
        drift = scores_verify(fix=fix)
        for row in drift:
            self.stdout.write(
                f"{row['name']} (#{row['principal']}): total {row['total']}, "
                f"ledger {row['ledger']}; last solve {row['last_solve_at']}, "
                f"ledger {row['ledger_last_solve_at']}; solve count "
                f"{row['solve_count']}, solves {row['solves']}"
            )
        if not drift:
            self.stdout.write(
                self.style.SUCCESS("No drift: every total matches its ledger.")
            )
        elif fix:
            self.stdout.write(
                self.style.WARNING(f"Repaired {len(drift)} principal(s).")
            )
        else:
            self.stdout.write(
                self.style.ERROR(
                    f"{len(drift)} principal(s) drifted; run with --fix to repair."
                )
            )
            sys.exit(1)
