"""EventLog: what happened, to whom, who did it, from where, and how bad it is."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventType(models.TextChoices):
    CHALLENGE_SOLVED = "CHALLENGE_SOLVED", "Challenge solved"
    FLAG_SHARE_DETECTED = "FLAG_SHARE_DETECTED", "Flag sharing detected"
    FLAG_REPLAY_DETECTED = "FLAG_REPLAY_DETECTED", "Flag replay detected"
    DECOY_FLAG_SUBMITTED = "DECOY_FLAG_SUBMITTED", "Decoy flag submitted"
    USER_BAN_TOGGLED = "USER_BAN_TOGGLED", "Ban toggled"
    USER_AUTO_BANNED_CHEATING = "USER_AUTO_BANNED_CHEATING", "Auto-banned for cheating"
    SCORE_ADJUSTED = "SCORE_ADJUSTED", "Score adjusted"
    SCOREBOARD_FROZEN = "SCOREBOARD_FROZEN", "Scoreboard frozen or unfrozen"
    REQUIREMENT_ERROR = "REQUIREMENT_ERROR", "Requirement error"
    CATALOG_RESCANNED = "CATALOG_RESCANNED", "Catalog rescanned"
    CHALLENGE_CHANGED = "CHALLENGE_CHANGED", "Challenge changed in the admin"
    CHALLENGE_TRUST_CHANGED = "CHALLENGE_TRUST_CHANGED", "Challenge trust changed"
    NODE_CHANGED = "NODE_CHANGED", "Node added, enabled or disabled"
    INSTANCE_CHANGED = "INSTANCE_CHANGED", "Instance stopped or extended"
    TEAM_CREATED = "TEAM_CREATED", "Team created"
    TEAM_JOINED = "TEAM_JOINED", "Team joined"
    TEAM_LEFT = "TEAM_LEFT", "Team left"
    TEAM_MEMBER_KICKED = "TEAM_MEMBER_KICKED", "Team member kicked"
    TEAM_CAPTAIN_TRANSFERRED = "TEAM_CAPTAIN_TRANSFERRED", "Team captain transferred"
    API_TOKEN_CREATED = "API_TOKEN_CREATED", "API token created"
    API_TOKEN_REVOKED = "API_TOKEN_REVOKED", "API token revoked"
    ANNOUNCEMENT_POSTED = "ANNOUNCEMENT_POSTED", "Announcement posted"
    ANNOUNCEMENT_EDITED = "ANNOUNCEMENT_EDITED", "Announcement edited"
    ANNOUNCEMENT_DELETED = "ANNOUNCEMENT_DELETED", "Announcement deleted"
    USER_SETTINGS_CHANGED = "USER_SETTINGS_CHANGED", "Account settings changed"
    PASSWORD_RESET_REQUESTED = "PASSWORD_RESET_REQUESTED", "Password reset requested"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class EventLog(models.Model):
    """One audit record. Rows are only ever inserted (see `audit.services.record`)."""

    event_type = models.CharField(max_length=40, choices=EventType.choices)
    severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.INFO
    )
    # Who did it (None for the system), and the user it was done to, if any.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Plain ids rather than foreign keys keep this app free of the apps above it.
    team_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    principal_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # A readable snapshot of the subject, which survives renames and deletions.
    subject = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "event"
        indexes = [models.Index(fields=["event_type", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} at {self.created_at:%Y-%m-%d %H:%M:%S}"
