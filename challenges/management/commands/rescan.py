"""`manage.py rescan`: load the challenge catalog from disk into the database."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from challenges.services import RescanReport, catalog_rescan


class Command(BaseCommand):
    help = (
        "Rescan the challenge catalog: add, update and hide challenges. "
        "Exits 1 when a spec was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--catalog", help="Catalog folder (default: CATALOG_DIR).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would change; write nothing.",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print one JSON object instead of a report.",
        )

    def handle(
        self, *args, catalog: str | None, dry_run: bool, json: bool, **options
    ) -> None:
        show_progress = not json and self.stdout.isatty()
        try:
            report = catalog_rescan(
                catalog=catalog,
                dry_run=dry_run,
                progress=self._progress if show_progress else None,
            )
        except (FileNotFoundError, NotADirectoryError) as error:
            raise CommandError(f"Catalog not found: {error}") from None
        if show_progress:
            self.stdout.write("")
        if json:
            self.stdout.write(_json_dump(report.to_dict()))
        else:
            self._report(report)
        if report.rejected:
            sys.exit(1)

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        self.stdout.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending=""
        )
        self.stdout.flush()

    def _report(self, report: RescanReport) -> None:
        for key, style in [
            ("added", self.style.SUCCESS),
            ("updated", self.style.SUCCESS),
            ("hidden", self.style.WARNING),
        ]:
            for identity in getattr(report, key):
                self.stdout.write(style(f"{key:>9}  {identity}"))
        for problem in report.rejected:
            where = problem["path"] + (f":{problem['line']}" if problem["line"] else "")
            field = f" [{problem['field']}]" if problem["field"] else ""
            self.stdout.write(
                self.style.ERROR(f" rejected  {where}{field}: {problem['error']}")
            )
        for warning in report.warnings:
            where = warning["path"] + (f":{warning['line']}" if warning["line"] else "")
            self.stdout.write(
                self.style.WARNING(f"  warning  {where}: {warning['message']}")
            )
        self.stdout.write(report.summary())


def _json_dump(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
