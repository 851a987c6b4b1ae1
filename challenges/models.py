"""Competitions, challenges (loaded from the catalog), questions, hints, files,
and players' feedback."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from challenges.catalog.compose import elevated_settings
from requirements.fields import RequirementField


class PlayMode(models.TextChoices):
    TEAMS = "teams", "Teams only"
    SOLO = "solo", "Solo players only"
    BOTH = "both", "Teams, and solo players without a team"


class BanPolicy(models.TextChoices):
    RECORD = "record", "Record only"
    BAN_SUBMITTER = "submitter", "Ban the submitter"
    BAN_BOTH = "both", "Ban the submitter and the flag's owner"


class CompetitionPhase(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    RUNNING = "running", "Running"
    FROZEN = "frozen", "Running, scoreboard frozen"
    ENDED = "ended", "Ended"


class CompetitionQuerySet(models.QuerySet):
    def default(self) -> "Competition":
        """The deployment's default competition: open, teams and solo players.

        A migration creates it; it is made again here if a database was emptied.
        """
        competition = self.filter(is_default=True).first()
        if competition is None:
            competition, _ = self.get_or_create(
                is_default=True,
                defaults={
                    "name": "Main event",
                    "slug": "main",
                    "play_mode": PlayMode.BOTH,
                },
            )
        return competition


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
    # The public scoreboard shows the standings as of this moment once it passes;
    # a future time schedules the freeze.
    freeze_at = models.DateTimeField(null=True, blank=True)
    # Scoring options (the submission pipeline reads them).
    rate_limit_attempts = models.PositiveSmallIntegerField(
        default=3, help_text="Wrong attempts in the window before a lockout."
    )
    rate_limit_window = models.PositiveIntegerField(
        default=30, help_text="Sliding window for wrong attempts, in seconds."
    )
    rate_limit_lockout = models.PositiveIntegerField(
        default=30, help_text="Lockout after too many wrong attempts, in seconds."
    )
    ban_policy = models.CharField(
        max_length=10,
        choices=BanPolicy.choices,
        default=BanPolicy.RECORD,
        help_text="What happens when flag sharing, replay or a decoy is detected.",
    )
    first_blood_bonuses = models.JSONField(
        default=list,
        blank=True,
        help_text="Bonus percents of the current value for the first solvers, "
        "e.g. [5, 3, 1].",
    )
    # The effective challenge set: everything, or the explicit list plus the rules.
    include_all = models.BooleanField(
        default=True, help_text="Every visible challenge of the catalog takes part."
    )
    challenges = models.ManyToManyField(
        "challenges.Challenge", blank=True, related_name="competitions"
    )
    include_categories = models.JSONField(
        default=list, blank=True, help_text='Categories taking part, e.g. ["web"].'
    )
    include_tags = models.JSONField(
        default=list, blank=True, help_text="Challenges with any of these tags."
    )
    # Per-team instances (challenges with `instance:` settings).
    instance_lifetime = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Seconds an instance lives, for every challenge; empty: the "
        "spec's, else 30 minutes.",
    )
    instance_extension = models.PositiveIntegerField(
        default=600,
        help_text="Seconds one extension adds; players may extend once this "
        "much or less is left.",
    )
    instance_max_extensions = models.PositiveSmallIntegerField(
        default=2, help_text="Extensions allowed per instance."
    )
    instance_max_per_principal = models.PositiveSmallIntegerField(
        default=3, help_text="Instances a team (or solo player) may run at once."
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

    def not_started_for(self, user) -> bool:
        """Before the start players see no challenges (staff see them all)."""
        starts = self.starts_at
        return bool(starts and starts > timezone.now() and not user.is_staff)

    def is_frozen(self, now=None) -> bool:
        """Whether the public scoreboard is frozen at `now`."""
        return self.freeze_at is not None and self.freeze_at <= (now or timezone.now())

    def phase(self, now=None) -> str:
        """Where the event stands: not started, running, frozen or ended."""
        now = now or timezone.now()
        if self.starts_at and now < self.starts_at:
            return CompetitionPhase.NOT_STARTED
        if self.ends_at and now >= self.ends_at:
            return CompetitionPhase.ENDED
        return (
            CompetitionPhase.FROZEN if self.is_frozen(now) else CompetitionPhase.RUNNING
        )

    def next_change(self, now=None):
        """The time the phase changes next (the start, or the end), if any."""
        now = now or timezone.now()
        if self.starts_at and now < self.starts_at:
            return self.starts_at
        if self.ends_at and now < self.ends_at:
            return self.ends_at
        return None

    def plays_as(self, user) -> str | None:
        """How `user` takes part: "team", "solo", or None if the mode excludes them."""
        if self.play_mode == PlayMode.SOLO:
            return "solo"
        if user.team_id is not None:
            return "team"
        return "solo" if self.play_mode == PlayMode.BOTH else None

    def challenge_set(self) -> "models.QuerySet[Challenge]":
        """The visible challenges of this competition (explicit ones plus the rules)."""
        visible = Challenge.objects.visible()
        if self.include_all:
            return visible
        rule = models.Q(pk__in=self.challenges.values("pk"))
        if self.include_categories:
            rule |= models.Q(category__in=self.include_categories)
        if self.include_tags:
            # Tag lists are small JSON arrays; SQLite cannot query inside them.
            wanted = set(self.include_tags)
            tagged = [
                pk
                for pk, tags in visible.values_list("pk", "tags")
                if wanted.intersection(tags or ())
            ]
            rule |= models.Q(pk__in=tagged)
        return visible.filter(rule)


class ChallengeType(models.TextChoices):
    STANDARD = "standard", "Standard (fixed points)"
    DYNAMIC = "dynamic", "Dynamic (decays with solves)"


class ChallengeState(models.TextChoices):
    VISIBLE = "visible", "Visible"
    HIDDEN = "hidden", "Hidden"


class LockedVisibility(models.TextChoices):
    """What a player who does not meet the requirement sees."""

    HIDDEN = "hidden", "Nothing (hidden)"
    LOCKED = "locked", "A locked card with the explanation"
    PREVIEW = "preview", "A preview: name, category, points, no access"


class ChallengeQuerySet(models.QuerySet):
    def visible(self) -> "ChallengeQuerySet":
        return self.filter(state=ChallengeState.VISIBLE, is_missing=False)


class Challenge(models.Model):
    """One challenge, loaded from a spec folder of the catalog by rescan, or
    made in the admin.

    `identity` is the folder relative to the catalog root: names change,
    folders rarely do. The catalog is the one source of what a spec says:
    for a catalog challenge (`spec_path` set) every field mirrors the last spec
    that loaded cleanly, except the OPERATIONAL_FIELDS organizers run the event
    with, which rescans keep.
    """

    # Editable in the admin for every challenge, kept by rescans, audited.
    OPERATIONAL_FIELDS = ("state", "position")

    identity = models.CharField(max_length=255, unique=True)
    # The spec file relative to the catalog root; blank if made in the admin.
    spec_path = models.CharField(max_length=500, blank=True)
    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, db_index=True)
    category = models.CharField(max_length=64, blank=True, db_index=True)
    author = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, help_text="Markdown; sanitized.")
    attribution = models.CharField(max_length=500, blank=True)
    type = models.CharField(
        max_length=8, choices=ChallengeType.choices, default=ChallengeType.STANDARD
    )
    value = models.PositiveIntegerField(default=0)
    decay_initial = models.PositiveIntegerField(null=True, blank=True)
    decay_decay = models.PositiveIntegerField(null=True, blank=True)
    decay_minimum = models.PositiveIntegerField(null=True, blank=True)
    decay_function = models.CharField(max_length=12, blank=True)
    connection_info = models.CharField(max_length=500, blank=True)
    tags = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True)
    state = models.CharField(
        max_length=8, choices=ChallengeState.choices, default=ChallengeState.VISIBLE
    )
    # The `state:` the spec last said: a rescan applies the spec's state only
    # when it changes there, so an organizer's show or hide survives.
    spec_state = models.CharField(max_length=8, blank=True)
    # The folder disappeared from the catalog: hidden, never deleted.
    is_missing = models.BooleanField(default=False)
    requirement = RequirementField(blank=True)
    locked_visibility = models.CharField(
        max_length=8, choices=LockedVisibility.choices, default=LockedVisibility.HIDDEN
    )
    # The challenge to go on with (the spec's `next:`): a name, or an id.
    next_ref = models.CharField("next challenge", max_length=200, blank=True)
    # Services and per-team instance settings, as the spec gave them (nodes read it).
    services = models.JSONField(default=dict, blank=True)
    # The elevated settings (privileged, extra capabilities) an organizer allowed;
    # instances start only when they cover all the services ask for.
    trusted_settings = models.JSONField(default=list, blank=True, editable=False)
    position = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    # Why the spec on disk is rejected now (the last good version stays live).
    spec_error = models.TextField(blank=True)
    # Why the requirement failed to evaluate (the challenge stays locked).
    requirement_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ChallengeQuerySet.as_manager()

    class Meta:
        ordering = ["category", "position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("challenges:detail", args=[self.pk])

    @property
    def from_catalog(self) -> bool:
        return bool(self.spec_path)

    @property
    def needs_trust(self) -> list[str]:
        """What its services ask beyond Docker's defaults that no one trusted yet."""
        asked = elevated_settings(self.services.get("services") or ())
        return [setting for setting in asked if setting not in self.trusted_settings]

    def question(self, question_id) -> "Question | None":
        """One of its questions by id (as int or text), or None; uses a prefetch."""
        questions = self.questions.all()
        return next((q for q in questions if str(q.pk) == str(question_id)), None)


class FlagKind(models.TextChoices):
    STATIC = "static", "Static (exact)"
    CASE_INSENSITIVE = "case_insensitive", "Case-insensitive"
    REGEX = "regex", "Regular expression (full match)"
    DERIVED = "derived", "Derived per principal"


class Question(models.Model):
    """One scorable part of a challenge; most challenges have exactly one."""

    challenge = models.ForeignKey(
        Challenge, on_delete=models.CASCADE, related_name="questions"
    )
    key = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    points = models.PositiveIntegerField(default=0)
    # Wrong attempts allowed since the latest reset; 0 means no cap.
    attempts = models.PositiveIntegerField(default=0)
    # [{"kind": FlagKind, "content": str, "template": str}, ...]
    flags = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["challenge", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "key"], name="challenges_question_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.challenge} / {self.name or self.key}"


class Hint(models.Model):
    challenge = models.ForeignKey(
        Challenge, on_delete=models.CASCADE, related_name="hints"
    )
    title = models.CharField(max_length=200, blank=True)
    content = models.TextField()
    cost = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["challenge", "position"]

    def __str__(self) -> str:
        return self.title or f"Hint {self.position + 1}"


class ChallengeFile(models.Model):
    """A handed-out file: a catalog file stays in the catalog and is served from
    there (`relative_path`); one uploaded in the admin lives under MEDIA_ROOT."""

    challenge = models.ForeignKey(
        Challenge, on_delete=models.CASCADE, related_name="files"
    )
    name = models.CharField(max_length=255)
    relative_path = models.CharField(max_length=500, blank=True)
    # Never served by URL: only the download view, behind the access check.
    upload = models.FileField(upload_to="handouts/%Y/%m/", blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    is_text = models.BooleanField(default=False)
    # `{flag:<key>}` placeholders to fill per principal when served.
    placeholders = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["challenge", "position"]

    def __str__(self) -> str:
        return self.name


class Feedback(models.Model):
    """One reaction per user per challenge: up or down, optional comment."""

    class Vote(models.IntegerChoices):
        UP = 1, "Liked it"
        DOWN = -1, "Not for me"

    challenge = models.ForeignKey(
        Challenge, on_delete=models.CASCADE, related_name="feedback"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback"
    )
    competition = models.ForeignKey(
        Competition, on_delete=models.CASCADE, related_name="feedback"
    )
    vote = models.SmallIntegerField(choices=Vote.choices)
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "feedback"
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "user"], name="challenges_one_feedback_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_vote_display()} {self.challenge} by {self.user}"


class Announcement(models.Model):
    """An organizer's message to the players of a competition (markdown).

    Tied to a challenge, it is shown only to players who may open that
    challenge: its text may name or give away what the others may not know.
    """

    competition = models.ForeignKey(
        Competition, on_delete=models.CASCADE, related_name="announcements"
    )
    challenge = models.ForeignKey(
        Challenge,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="announcements",
        help_text="Optional: only players who may open this challenge see it.",
    )
    title = models.CharField(max_length=120)
    body = models.TextField(
        blank=True, help_text="Markdown, sanitized like challenge descriptions."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title
