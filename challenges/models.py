"""Competitions (and, with the catalog issue, challenges and their questions)."""

from django.db import models
from django.utils import timezone


class PlayMode(models.TextChoices):
    TEAMS = "teams", "Teams only"
    SOLO = "solo", "Solo players only"
    BOTH = "both", "Teams, and solo players without a team"


class CompetitionQuerySet(models.QuerySet):
    def default(self) -> "Competition":
        """The deployment's default competition (made by a migration; never absent)."""
        return self.get(is_default=True)


class Competition(models.Model):
    """An event with a time window and its play mode.

    Every deployment has exactly one default competition, open with no time
    window and admitting teams and solo players, so a fresh install just works.
    """

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    is_default = models.BooleanField(default=False)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    play_mode = models.CharField(
        max_length=8, choices=PlayMode.choices, default=PlayMode.BOTH
    )

    objects = CompetitionQuerySet.as_manager()

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="challenges_one_default_competition",
            ),
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True)
                | models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="challenges_competition_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_open(self, now=None) -> bool:
        """Whether submissions are accepted at `now`."""
        now = now or timezone.now()
        started = self.starts_at is None or self.starts_at <= now
        return started and (self.ends_at is None or now < self.ends_at)

    def plays_as(self, user) -> str | None:
        """How `user` takes part: "team", "solo", or None if the mode excludes them."""
        if self.play_mode == PlayMode.SOLO:
            return "solo"
        if user.team_id is not None:
            return "team"
        return "solo" if self.play_mode == PlayMode.BOTH else None
