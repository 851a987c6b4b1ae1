"""`record`: the one way every app writes to the audit log."""

from typing import Any

from django.http import HttpRequest

from audit.models import EventLog, EventType, Severity

# Severity an event gets unless the caller says otherwise.
DEFAULT_SEVERITY = {
    EventType.FLAG_SHARE_DETECTED: Severity.CRITICAL,
    EventType.FLAG_REPLAY_DETECTED: Severity.CRITICAL,
    EventType.DECOY_FLAG_SUBMITTED: Severity.CRITICAL,
    EventType.USER_AUTO_BANNED_CHEATING: Severity.CRITICAL,
    EventType.USER_BAN_TOGGLED: Severity.WARNING,
    EventType.SCORE_ADJUSTED: Severity.WARNING,
    EventType.REQUIREMENT_ERROR: Severity.WARNING,
    EventType.CHALLENGE_TRUST_CHANGED: Severity.WARNING,
}


def client_ip(request: HttpRequest | None) -> str | None:
    """Return the client's address as the web server saw it."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _pk(obj: Any) -> int | None:
    return getattr(obj, "pk", obj)


def record(
    event_type: EventType,
    *,
    severity: Severity | None = None,
    actor: Any = None,
    user: Any = None,
    team: Any = None,
    principal: Any = None,
    subject: str = "",
    message: str = "",
    details: dict | None = None,
    request: HttpRequest | None = None,
    ip: str | None = None,
) -> EventLog:
    """Insert one audit record; `team` and `principal` may be objects or ids."""
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    return EventLog.objects.create(
        event_type=event_type,
        severity=severity or DEFAULT_SEVERITY.get(event_type, Severity.INFO),
        actor_id=_pk(actor),
        user_id=_pk(user),
        team_id=_pk(team),
        principal_id=_pk(principal),
        subject=subject[:200] or str(team or user or "")[:200],
        message=message[:500],
        details=details or {},
        ip=ip or client_ip(request),
    )
