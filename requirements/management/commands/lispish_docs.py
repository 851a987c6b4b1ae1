"""`manage.py lispish_docs`: write docs/lispish-blocks.md from the block registry."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from requirements.lispish import blocks_markdown

DOCS = Path(settings.BASE_DIR) / "docs" / "lispish-blocks.md"


class Command(BaseCommand):
    help = "Regenerate the LispIsh block reference (the registry is the source)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit 1 if the file is out of date; write nothing.",
        )

    def handle(self, *args, check: bool, **options) -> None:
        text = blocks_markdown()
        if check:
            if not DOCS.exists() or DOCS.read_text() != text:
                self.stderr.write(f"{DOCS} is out of date: run manage.py lispish_docs")
                raise SystemExit(1)
            self.stdout.write(f"{DOCS} is up to date.")
            return
        DOCS.write_text(text)
        self.stdout.write(f"Wrote {DOCS}.")
