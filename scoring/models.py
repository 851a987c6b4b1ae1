"""Who scores (principals), what they solved, the flags they are expected to
submit, the score ledger and each question's tally of solvers and value."""

from django.conf import settings
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone


class PrincipalKind(models.TextChoices):
    TEAM = "team", "Team"
    SOLO = "solo", "Solo player"


class PrincipalQuerySet(models.QuerySet):
    def with_score(self) -> "PrincipalQuerySet":
        """Annotate `score`: the ledger total plus what the principal's dynamic
        solves gained or lost since (each holds its question's current value)."""
        tally = QuestionTally.objects.filter(
            competition=OuterRef("principal__competition"),
            question=OuterRef("question"),
        ).values("value")[:1]
        drift = (
            Solve.objects.filter(principal=OuterRef("pk"))
            .annotate(now=Subquery(tally))
            .filter(now__isnull=False)
            .values("principal")
            .annotate(drift=Sum(F("now") - F("points")))
            .values("drift")
        )
        return self.annotate(score=F("ledger_total") + Coalesce(Subquery(drift), 0))


class Principal(models.Model):
    """A team, or a solo player, taking part in one competition."""

    competition = models.ForeignKey(
        "challenges.Competition", on_delete=models.CASCADE, related_name="principals"
    )
    kind = models.CharField(max_length=4, choices=PrincipalKind.choices)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="principals",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="solo_principals",
    )
    # Denormalised from the ledger and the solves; written only with SQL
    # expressions. The score is this plus the dynamic drift (`with_score`).
    ledger_total = models.IntegerField(default=0)
    last_solve_at = models.DateTimeField(null=True, blank=True)
    solve_count = models.IntegerField(default=0)
    is_hidden = models.BooleanField(default=False)
    is_banned = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = PrincipalQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "team"],
                condition=Q(team__isnull=False),
                name="scoring_one_principal_per_team",
            ),
            models.UniqueConstraint(
                fields=["competition", "user"],
                condition=Q(user__isnull=False),
                name="scoring_one_principal_per_solo_user",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="team", team__isnull=False, user__isnull=True)
                    | Q(kind="solo", team__isnull=True, user__isnull=False)
                ),
                name="scoring_principal_is_team_xor_user",
            ),
        ]

    def __str__(self) -> str:
        return str(self.team) if self.kind == PrincipalKind.TEAM else str(self.user)

    @property
    def is_public(self) -> bool:
        return not (self.is_hidden or self.is_banned)


class Solve(models.Model):
    """A principal answered a question. Unique per pair: a race scores once."""

    principal = models.ForeignKey(
        Principal, on_delete=models.CASCADE, related_name="solves"
    )
    question = models.ForeignKey(
        "challenges.Question", on_delete=models.CASCADE, related_name="solves"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The question's value this solve was credited with; for a dynamic question
    # the solver holds the current value, so it gained (tally value - points).
    points = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "question"], name="scoring_one_solve_per_question"
            ),
        ]
        # The boards' drift query reads only this index for dynamic questions.
        indexes = [models.Index(fields=["question", "principal", "points"])]

    def __str__(self) -> str:
        return f"{self.principal} solved {self.question}"


class FlagStatus(models.TextChoices):
    CURRENT = "current", "Current"
    ROTATED = "rotated", "Rotated (kept for replay detection)"


class TeamFlag(models.Model):
    """The flag a principal is expected to submit for a question (derived or issued
    per instance); the durable mirror of the Redis hash `team_flags:<principal>`."""

    principal = models.ForeignKey(
        Principal, on_delete=models.CASCADE, related_name="flags"
    )
    question = models.ForeignKey(
        "challenges.Question", on_delete=models.CASCADE, related_name="team_flags"
    )
    value = models.CharField(max_length=1024)
    # SHA-256 of the value: the reverse index the anti-cheat scan looks up.
    value_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=8, choices=FlagStatus.choices, default=FlagStatus.CURRENT
    )
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "question"],
                condition=Q(status="current"),
                name="scoring_one_current_flag",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal} / {self.question} ({self.status})"


class Result(models.TextChoices):
    CORRECT = "correct", "Correct"
    WRONG = "wrong", "Wrong"
    ALREADY_SOLVED = "already_solved", "Already solved"
    RATE_LIMITED = "rate_limited", "Rate limited"
    REFUSED = "refused", "Refused"


class Submission(models.Model):
    """One flag attempt. Only the SHA-256 of what was typed is kept, never the text."""

    principal = models.ForeignKey(
        Principal,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="submissions",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="submissions",
    )
    question = models.ForeignKey(
        "challenges.Question", on_delete=models.CASCADE, related_name="submissions"
    )
    flag_hash = models.CharField(max_length=64, db_index=True)
    result = models.CharField(max_length=16, choices=Result.choices)
    reason = models.CharField(max_length=200, blank=True)
    points = models.IntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["principal", "question", "result", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_result_display()} by {self.principal} on {self.question}"


class ScoreReason(models.TextChoices):
    SOLVE = "solve", "Solve"
    # What a dynamic solve gained or lost since it was credited: derived from
    # the value history (ValueChange) while the solve stands, written as these
    # events when it is removed (and per solver by ledgers before migration 0003).
    DECAY = "decay", "Dynamic value adjustment"
    FIRST_BLOOD = "first_blood", "First-blood bonus"
    HINT = "hint", "Hint unlocked"
    ADMIN = "admin", "Manual adjustment"


class ScoreEvent(models.Model):
    """An append-only score delta. A principal's score is the sum of its events
    plus, for each dynamic question it solved, the value changes since
    (ValueChange): a new solve writes no row for the earlier solvers."""

    principal = models.ForeignKey(
        Principal, on_delete=models.CASCADE, related_name="score_events"
    )
    delta = models.IntegerField()
    reason = models.CharField(max_length=12, choices=ScoreReason.choices)
    # For ADMIN events the note the organizer gave (shown as `admin:<note>`).
    note = models.CharField(max_length=200, blank=True)
    question = models.ForeignKey(
        "challenges.Question",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["principal", "created_at"])]

    def __str__(self) -> str:
        label = (
            f"admin:{self.note}" if self.reason == ScoreReason.ADMIN else self.reason
        )
        return f"{self.delta:+d} {label} for {self.principal}"


class AttemptReset(models.Model):
    """A baseline: wrong attempts before it no longer count against the cap."""

    principal = models.ForeignKey(
        Principal, on_delete=models.CASCADE, related_name="attempt_resets"
    )
    question = models.ForeignKey(
        "challenges.Question", on_delete=models.CASCADE, related_name="+"
    )
    admin = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"reset {self.principal} / {self.question}"


class HintUnlock(models.Model):
    principal = models.ForeignKey(
        Principal, on_delete=models.CASCADE, related_name="hint_unlocks"
    )
    hint = models.ForeignKey(
        "challenges.Hint", on_delete=models.CASCADE, related_name="unlocks"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "hint"], name="scoring_one_unlock_per_hint"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal} unlocked {self.hint}"


class CheatKind(models.TextChoices):
    SHARE = "share", "Submitted another team's flag"
    REPLAY = "replay", "Replayed a previously submitted flag"
    DECOY = "decoy", "Submitted a decoy flag"


class CheatRecord(models.Model):
    """A detected cheat: who submitted whose flag, for which question, and when."""

    kind = models.CharField(max_length=8, choices=CheatKind.choices)
    submitter = models.ForeignKey(
        Principal, on_delete=models.CASCADE, related_name="cheats"
    )
    owner = models.ForeignKey(
        Principal, null=True, blank=True, on_delete=models.CASCADE, related_name="leaks"
    )
    question = models.ForeignKey(
        "challenges.Question",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decoy = models.ForeignKey(
        "scoring.DecoyFlag",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hits",
    )
    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.submitter}"


class DecoyFlag(models.Model):
    """A honeypot flag planted by organizers (a fake leak, a bot, a file)."""

    competition = models.ForeignKey(
        "challenges.Competition", on_delete=models.CASCADE, related_name="decoys"
    )
    value = models.CharField(max_length=1024)
    value_hash = models.CharField(max_length=64, editable=False, db_index=True)
    where = models.CharField(
        max_length=200, blank=True, help_text="Where it was planted, for the record."
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"decoy ({self.where or 'unspecified'})"


class FrozenStanding(models.Model):
    """One principal's standing as the ledger stood at a freeze time (a snapshot,
    computed once per freeze time, so frozen boards never rescan the ledger)."""

    competition = models.ForeignKey(
        "challenges.Competition", on_delete=models.CASCADE, related_name="+"
    )
    freeze_at = models.DateTimeField()
    principal = models.ForeignKey(Principal, on_delete=models.CASCADE, related_name="+")
    score = models.IntegerField()
    solves = models.PositiveIntegerField()
    last_solve_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "freeze_at", "principal"],
                name="scoring_one_frozen_standing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal} at {self.freeze_at}: {self.score}"


class QuestionTally(models.Model):
    """A question's public solvers and current value in one competition.

    Every solve of the question locks this row before its principal's, so first
    bloods and values follow commit order and no two solves lock rows in
    opposite orders. `value` is set for dynamic questions only.
    """

    competition = models.ForeignKey(
        "challenges.Competition", on_delete=models.CASCADE, related_name="+"
    )
    question = models.ForeignKey(
        "challenges.Question", on_delete=models.CASCADE, related_name="tallies"
    )
    public_solves = models.PositiveIntegerField(default=0)
    value = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "question"], name="scoring_one_tally"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question}: {self.public_solves} public solve(s)"


class ValueChange(models.Model):
    """The value history of a dynamic question: one row per change (a solve, a
    ban, a hidden principal, a removed solve, a new decay setting). Frozen
    standings and score charts read the value as it stood at a time here."""

    competition = models.ForeignKey(
        "challenges.Competition", on_delete=models.CASCADE, related_name="+"
    )
    question = models.ForeignKey(
        "challenges.Question", on_delete=models.CASCADE, related_name="+"
    )
    value = models.IntegerField()
    public_solves = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["competition", "question", "created_at"])]

    def __str__(self) -> str:
        return f"{self.question} worth {self.value} from {self.created_at}"
