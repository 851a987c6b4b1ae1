"""Players, teams, cohorts and personal API tokens."""

import re
import secrets

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

# Registration's rule for user names (also when a player renames themselves).
USERNAME_PATTERN = re.compile(r"^[\w.@+-]{2,32}\Z")
USERNAME_RULE = "Use 2 to 32 letters, digits and @ . + - _ only."


def new_invite_code() -> str:
    """Return a fresh team invite code (about 80 bits, URL-safe)."""
    return secrets.token_urlsafe(10)


class UserManager(BaseUserManager):
    def get_by_natural_key(self, username: str) -> "User":
        """Log in case-insensitively: names are unique regardless of case."""
        return self.get(username__iexact=username)


class User(AbstractUser):
    """A player or organizer. `team` is the one team the user belongs to, if any."""

    email = models.EmailField("email address", blank=True)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    team_joined_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"), name="accounts_user_username_ci_unique"
            ),
        ]

    @property
    def is_captain(self) -> bool:
        return self.team_id is not None and self.team.captain_id == self.pk


class Team(models.Model):
    """A team of players; its captain manages members and the invite code."""

    name = models.CharField(max_length=64)
    captain = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="captained_teams"
    )
    invite_code = models.CharField(max_length=32, unique=True, default=new_invite_code)
    affiliation = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="accounts_team_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:team")


class Cohort(models.Model):
    """A named group of users (a class, a university, a track) for LispIsh `COHORT`."""

    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(
        "accounts.User", blank=True, related_name="cohorts"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class APITokenQuerySet(models.QuerySet):
    def usable(self) -> "APITokenQuerySet":
        """Tokens that are neither revoked nor expired."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class APIToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the raw value is shown once."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=64, blank=True)
    # The first characters of the raw token, so owners can tell tokens apart.
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = APITokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
