"""`manage.py token create|list|revoke`: personal API tokens from the shell."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import APIToken, User
from accounts.services import token_create, token_revoke


class Command(BaseCommand):
    help = "Create, list or revoke personal API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token and print it once.")
        create.add_argument("username")
        create.add_argument(
            "--expires",
            type=int,
            metavar="DAYS",
            help="Days until the token expires (default: never).",
        )
        create.add_argument("--name", default="", help="A label for the token.")
        listing = sub.add_parser("list", help="List a user's tokens.")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix.")
        revoke.add_argument("prefix")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"handle_{action}")(**options)

    def _user(self, username: str) -> User:
        try:
            return User.objects.get(username__iexact=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None

    def handle_create(
        self, *, username: str, expires: int | None, name: str, **_
    ) -> None:
        try:
            token, raw = token_create(
                user=self._user(username), name=name, expires_days=expires
            )
        except ValidationError as error:
            raise CommandError(error.messages[0]) from None
        self.stdout.write(raw)
        until = (
            f"until {token.expires_at:%Y-%m-%d %H:%M} UTC"
            if token.expires_at
            else "with no expiry"
        )
        self.stderr.write(
            f"Token {token.prefix}… for {token.user} {until}. "
            "It is shown once: store it now."
        )

    def handle_list(self, *, username: str, **_) -> None:
        for token in APIToken.objects.filter(user=self._user(username)):
            state = (
                "revoked"
                if token.revoked_at
                else ("usable" if token.is_usable else "expired")
            )
            self.stdout.write(
                f"{token.prefix}…  {state:8}  created {token.created_at:%Y-%m-%d}  "
                f"expires {token.expires_at or 'never'}  "
                f"last used {token.last_used_at or 'never'}  {token.name}"
            )

    def handle_revoke(self, *, prefix: str, **_) -> None:
        tokens = list(APIToken.objects.filter(prefix__startswith=prefix.rstrip("…")))
        if len(tokens) != 1:
            raise CommandError(f"{len(tokens)} tokens match {prefix!r}; give one.")
        token_revoke(token=tokens[0])
        self.stdout.write(f"Revoked {tokens[0].prefix}….")
