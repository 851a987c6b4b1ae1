from django.test import Client
from django.urls import reverse

from accounts.services import team_join, token_create
from audit.models import EventLog, EventType, Severity
from audit.services import record


def test_it_records_who_did_what_to_whom(team, solo, rf):
    request = rf.post("/", REMOTE_ADDR="203.0.113.7")
    request.user = solo
    event = record(
        EventType.FLAG_SHARE_DETECTED,
        team=team,
        request=request,
        details={"question": 3},
    )
    event.refresh_from_db()
    assert event.actor == solo
    assert event.team_id == team.pk
    assert event.subject == "Null Pointers"
    assert event.ip == "203.0.113.7"
    assert event.severity == Severity.CRITICAL
    assert event.details == {"question": 3}


def test_team_changes_are_audited(team, solo):
    team_join(user=solo, code=team.invite_code)
    event = EventLog.objects.filter(event_type=EventType.TEAM_JOINED).get()
    assert (event.actor, event.user, event.team_id) == (solo, solo, team.pk)


def test_the_admin_log_is_visible_to_staff_only(organizer, solo, login):
    record(
        EventType.SCOREBOARD_FROZEN, actor=organizer, message="frozen for the finale"
    )
    url = reverse("admin:audit_eventlog_changelist")
    staff_page = login(organizer).get(url)
    assert staff_page.status_code == 200
    assert "frozen for the finale" in staff_page.content.decode()
    player_page = login(solo).get(url)
    assert player_page.status_code == 302
    assert "frozen for the finale" not in player_page.content.decode()


def test_the_admin_log_cannot_be_edited(organizer, login):
    event = record(EventType.CATALOG_RESCANNED, actor=organizer)
    client = login(organizer)
    assert client.get(reverse("admin:audit_eventlog_add")).status_code == 403
    delete = reverse("admin:audit_eventlog_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert EventLog.objects.filter(pk=event.pk).exists()


def test_the_admin_log_filters_by_type_and_severity(organizer, login):
    record(EventType.SCORE_ADJUSTED, message="bonus for writeup")
    record(EventType.CATALOG_RESCANNED, message="nightly rescan")
    url = reverse("admin:audit_eventlog_changelist")
    page = login(organizer).get(url, {"severity__exact": "warning"}).content.decode()
    assert "bonus for writeup" in page and "nightly rescan" not in page
    page = login(organizer).get(url, {"event_type__exact": "CATALOG_RESCANNED"})
    assert "nightly rescan" in page.content.decode()


def test_the_events_api_is_staff_only(organizer, solo):
    record(EventType.USER_BAN_TOGGLED, user=solo, message="banned by hand")
    _, player_token = token_create(user=solo)
    refused = Client().get(
        "/api/v1/admin/events", HTTP_AUTHORIZATION=f"Token {player_token}"
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "permission_denied"
    _, staff_token = token_create(user=organizer)
    events = (
        Client()
        .get(
            "/api/v1/admin/events",
            {"type": "USER_BAN_TOGGLED"},
            HTTP_AUTHORIZATION=f"Token {staff_token}",
        )
        .json()["items"]
    )
    assert [e["message"] for e in events] == ["banned by hand"]
    assert events[0]["user"] == "solo" and events[0]["severity"] == "warning"


def test_the_events_api_names_a_bad_filter(organizer):
    _, raw = token_create(user=organizer)
    response = Client().get(
        "/api/v1/admin/events", {"severity": "loud"}, HTTP_AUTHORIZATION=f"Token {raw}"
    )
    assert response.status_code == 400
    assert "severity" in response.json()["fields"]
