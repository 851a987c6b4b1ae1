"""What `manage.py build` and `manage.py pull` share: pick challenges, submit
the task, and with --wait follow it to the end."""

import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from challenges.catalog import normalize_name
from challenges.models import Challenge
from nodes.models import BackgroundTask, TaskStatus
from nodes.selectors import task_record
from nodes.services.tasks import TaskError, task_submit

POLL_SECONDS = 0.5


class SubmitCommand(BaseCommand):
    verb = ""  # "build" or "pull"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "challenges",
            nargs="*",
            metavar="CHALLENGE",
            help="Challenges by id, folder (web/sqli) or name.",
        )
        parser.add_argument(
            "--all", action="store_true", help="Every challenge of the catalog."
        )
        parser.add_argument(
            "--competition",
            type=int,
            metavar="ID",
            help="The effective challenge set of this competition.",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Block until the task ends; exit 1 unless it succeeded.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the task record as JSON."
        )

    def handle(self, *args, challenges, competition, wait, json, **options):
        if bool(challenges) == bool(options["all"] or competition is not None):
            raise CommandError(
                f"Name challenges to {self.verb}, or give --all or --competition ID."
            )
        kind = self.verb if challenges else f"{self.verb}_all"
        try:
            task = task_submit(
                kind=kind,
                challenge_ids=[_find(name).pk for name in challenges],
                competition_id=competition,
            )
        except TaskError as error:
            raise CommandError(str(error)) from None
        if not json:
            self.stdout.write(f"Task #{task.pk} ({task.get_kind_display()}) submitted.")
        if wait:
            task = self._follow(task, progress=not json and self.stdout.isatty())
        else:
            task.refresh_from_db()
        if json:
            self.stdout.write(_dump(task_record(task)))
        elif task.is_finished:
            self._report(task)
        if wait and task.status != TaskStatus.SUCCEEDED:
            sys.exit(1)

    def _follow(self, task: BackgroundTask, *, progress: bool) -> BackgroundTask:
        while True:
            task.refresh_from_db()
            if progress:
                width = 30
                filled = width * task.percent // 100
                self.stdout.write(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] "
                    f"{task.done}/{task.total} {task.status}  ",
                    ending="",
                )
                self.stdout.flush()
            if task.is_finished:
                if progress:
                    self.stdout.write("")
                return task
            time.sleep(POLL_SECONDS)

    def _report(self, task: BackgroundTask) -> None:
        record = task_record(task)
        for node, result in record["nodes"].items():
            for outcome in result["outcomes"]:
                style = (
                    self.style.SUCCESS
                    if outcome["status"] == "succeeded"
                    else self.style.ERROR
                )
                self.stdout.write(
                    style(
                        f"{outcome['status']:>9}  {node}  {outcome['challenge']}: "
                        f"{outcome['message']}"
                    )
                )
        style = self.style.SUCCESS if task.status == "succeeded" else self.style.ERROR
        line = f"Task #{task.pk}: {task.status}, {task.done}/{task.total}."
        self.stdout.write(style(line + (f" {task.error}" if task.error else "")))


def _find(name: str) -> Challenge:
    rule = Q(identity=name) | Q(normalized_name=normalize_name(name))
    if name.isdigit():
        rule |= Q(pk=int(name))
    found = list(Challenge.objects.filter(rule)[:2])
    if not found:
        raise CommandError(f"No challenge is {name!r} (by id, folder or name).")
    if len(found) > 1:
        raise CommandError(f"{name!r} names several challenges; use the folder.")
    return found[0]


def _dump(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
