"""`manage.py ensure_admin`: create the `admin` superuser; print its password once."""

import secrets

from django.core.management.base import BaseCommand, CommandParser

from accounts.models import User


class Command(BaseCommand):
    help = "Create a superuser with a random password, printed once, if none exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        if User.objects.filter(username__iexact=username).exists():
            self.stdout.write(
                f"Superuser {username!r} exists; its password was "
                "printed when it was created."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created superuser {username!r} with password: {password}\n"
                "This is shown once; change it in the admin if you like."
            )
        )
