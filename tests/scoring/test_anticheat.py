"""Anti-cheat: another team's flag (current or rotated), decoys, and the ban policy."""

import pytest

from audit.models import EventLog, EventType, Severity
from challenges.models import Competition
from scoring.flags import flag_issue_random
from scoring.models import CheatKind, CheatRecord, Result, Submission
from scoring.services import decoy_create, principal_set_banned

from .factories import (
    attempt,
    derived,
    flag_of,
    make_challenge,
    own_flag,
    player,
    principal_of,
    question_of,
)


@pytest.fixture
def per_team(db):
    return make_challenge("Per team", flags=[derived("CTF{per_team_{hash}}")])


@pytest.fixture
def alpha(db):
    return player("alpha")


@pytest.fixture
def bravo(db):
    return player("bravo")


def policy(name: str) -> None:
    Competition.objects.filter(is_default=True).update(ban_policy=name)


def share(thief, owner, challenge):
    """`thief` submits `owner`'s current flag for `challenge`."""
    question = question_of(challenge)
    return attempt(thief, challenge, own_flag(principal_of(owner), question))


def events(kind) -> list[EventLog]:
    return list(EventLog.objects.filter(event_type=kind).order_by("pk"))


def test_it_detects_another_teams_current_flag(alpha, bravo, per_team):
    result = share(bravo, alpha, per_team)

    assert result.result == Result.WRONG
    cheat = CheatRecord.objects.get()
    assert cheat.kind == CheatKind.SHARE
    assert cheat.submitter == principal_of(bravo)
    assert cheat.owner == principal_of(alpha)
    assert cheat.question == question_of(per_team)
    assert cheat.submission == Submission.objects.get(result=Result.WRONG)
    (event,) = events(EventType.FLAG_SHARE_DETECTED)
    assert event.severity == Severity.CRITICAL
    assert (event.principal_id, event.actor) == (cheat.submitter_id, bravo)
    assert event.details["owner"] == cheat.owner_id


def test_it_detects_another_teams_flag_given_for_another_challenge(
    alpha, bravo, per_team
):
    elsewhere = make_challenge("Elsewhere")

    attempt(bravo, elsewhere, own_flag(principal_of(alpha), question_of(per_team)))

    cheat = CheatRecord.objects.get()
    assert (cheat.owner, cheat.question) == (principal_of(alpha), question_of(per_team))


def test_it_detects_a_replayed_rotated_flag(
    alpha, bravo, per_team, django_capture_on_commit_callbacks
):
    principal, question = principal_of(alpha), question_of(per_team)
    with django_capture_on_commit_callbacks(execute=True):
        old = flag_issue_random(principal=principal, question=question)
    with django_capture_on_commit_callbacks(execute=True):
        flag_issue_random(principal=principal, question=question)

    assert attempt(bravo, per_team, old).result == Result.WRONG

    cheat = CheatRecord.objects.get()
    assert (cheat.kind, cheat.owner) == (CheatKind.REPLAY, principal)
    (event,) = events(EventType.FLAG_REPLAY_DETECTED)
    assert event.severity == Severity.CRITICAL
    assert not events(EventType.FLAG_SHARE_DETECTED)


def test_it_detects_a_decoy_flag(solo, per_team, django_capture_on_commit_callbacks):
    competition = Competition.objects.default()
    attempt(solo, per_team, "CTF{warming_the_cache}")
    with django_capture_on_commit_callbacks(execute=True):
        decoy = decoy_create(
            competition=competition, value="CTF{admin_backup}", where="pastebin"
        )

    assert attempt(solo, per_team, "CTF{admin_backup}").result == Result.WRONG

    cheat = CheatRecord.objects.get()
    assert (cheat.kind, cheat.decoy, cheat.owner) == (CheatKind.DECOY, decoy, None)
    (event,) = events(EventType.DECOY_FLAG_SUBMITTED)
    assert event.severity == Severity.CRITICAL
    assert decoy.hits.count() == 1


def test_it_records_nothing_for_an_ordinary_wrong_flag(alpha, per_team):
    attempt(alpha, per_team, "CTF{per_team_0000000000000000}")

    assert not CheatRecord.objects.exists()
    assert not EventLog.objects.filter(severity=Severity.CRITICAL).exists()


def test_the_record_policy_bans_nobody(alpha, bravo, per_team):
    policy("record")

    share(bravo, alpha, per_team)

    assert CheatRecord.objects.count() == 1
    assert not principal_of(bravo).is_banned
    assert not principal_of(alpha).is_banned
    assert share(bravo, bravo, per_team).result == Result.CORRECT


def test_the_submitter_policy_bans_the_submitter(alpha, bravo, per_team):
    policy("submitter")

    share(bravo, alpha, per_team)

    assert principal_of(bravo).is_banned
    assert not principal_of(alpha).is_banned
    (event,) = events(EventType.USER_AUTO_BANNED_CHEATING)
    assert event.principal_id == principal_of(bravo).pk
    assert event.message == "Submitted another team's flag"
    assert event.severity == Severity.CRITICAL
    later = share(bravo, bravo, per_team)
    assert later.result == Result.REFUSED
    assert later.message == "Your team is banned from this competition."
    assert share(alpha, alpha, per_team).result == Result.CORRECT


def test_the_both_policy_bans_the_submitter_and_the_owner(alpha, bravo, per_team):
    policy("both")

    share(bravo, alpha, per_team)

    assert principal_of(bravo).is_banned
    assert principal_of(alpha).is_banned
    banned = events(EventType.USER_AUTO_BANNED_CHEATING)
    assert {e.principal_id for e in banned} == {
        principal_of(alpha).pk,
        principal_of(bravo).pk,
    }
    assert {e.message for e in banned} == {"Submitted another team's flag"}
    assert share(alpha, alpha, per_team).result == Result.REFUSED


def test_a_replay_ban_says_why(
    alpha, bravo, per_team, django_capture_on_commit_callbacks
):
    policy("submitter")
    principal, question = principal_of(alpha), question_of(per_team)
    with django_capture_on_commit_callbacks(execute=True):
        old = flag_issue_random(principal=principal, question=question)
    with django_capture_on_commit_callbacks(execute=True):
        flag_issue_random(principal=principal, question=question)

    attempt(bravo, per_team, old)

    (event,) = events(EventType.USER_AUTO_BANNED_CHEATING)
    assert event.message == "Replayed a previously submitted flag"


def test_a_decoy_under_the_both_policy_bans_the_submitter_only(solo, alpha, per_team):
    policy("both")
    decoy_create(competition=Competition.objects.default(), value="CTF{honeypot}")

    attempt(solo, per_team, "CTF{honeypot}")

    assert principal_of(solo).is_banned
    assert not principal_of(alpha).is_banned
    (event,) = events(EventType.USER_AUTO_BANNED_CHEATING)
    assert event.message == "Submitted a decoy flag"


def test_an_organizer_bans_and_unbans_by_hand(organizer, solo):
    challenge = make_challenge()
    principal = principal_of(solo)

    assert principal_set_banned(
        principal=principal, banned=True, actor=organizer, reason="abuse"
    )
    assert attempt(solo, challenge, flag_of(challenge)).result == Result.REFUSED
    assert not principal_set_banned(principal=principal, banned=True, actor=organizer)
    assert principal_set_banned(principal=principal, banned=False, actor=organizer)

    assert attempt(solo, challenge, flag_of(challenge)).result == Result.CORRECT
    toggles = events(EventType.USER_BAN_TOGGLED)
    assert [(e.message, e.actor, e.principal_id) for e in toggles] == [
        ("banned: abuse", organizer, principal.pk),
        ("unbanned", organizer, principal.pk),
    ]
    assert {e.severity for e in toggles} == {Severity.WARNING}
    assert not events(EventType.USER_AUTO_BANNED_CHEATING)
