import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import Team, User
from accounts.services import (
    team_create,
    team_join,
    team_kick,
    team_leave,
    team_regenerate_invite_code,
    team_transfer_captain,
)
from audit.models import EventLog, EventType
from tests.conftest import make_user


def test_it_joins_a_team_with_its_invite_code(team, solo):
    team_join(user=solo, code=team.invite_code)
    solo.refresh_from_db()
    assert solo.team == team
    assert solo.team_joined_at is not None


def test_it_refuses_a_wrong_invite_code(team, solo):
    with pytest.raises(ValidationError, match="No team has that invite code"):
        team_join(user=solo, code="not-" + team.invite_code)
    solo.refresh_from_db()
    assert solo.team is None


def test_it_refuses_to_join_a_full_team(team, settings):
    settings.TEAM_SIZE_LIMIT = 2
    team_join(user=make_user("second"), code=team.invite_code)
    third = make_user("third")
    with pytest.raises(ValidationError, match="Null Pointers is full \\(2 members\\)"):
        team_join(user=third, code=team.invite_code)
    assert team.members.count() == 2


def test_it_allows_any_size_when_the_limit_is_zero(team, settings):
    settings.TEAM_SIZE_LIMIT = 0
    for n in range(6):
        team_join(user=make_user(f"p{n}"), code=team.invite_code)
    assert team.members.count() == 7


def test_it_refuses_to_join_a_second_team(team, member, outsider):
    other = Team.objects.create(name="Other", captain=outsider)
    with pytest.raises(ValidationError, match="Leave your current team first"):
        team_join(user=member, code=other.invite_code)


def test_it_transfers_the_captaincy(team, captain, member):
    team_transfer_captain(captain=captain, new_captain=member)
    team.refresh_from_db()
    assert team.captain == member
    event = EventLog.objects.get(event_type=EventType.TEAM_CAPTAIN_TRANSFERRED)
    assert event.actor == captain and event.user == member and event.team_id == team.pk


def test_it_lets_only_the_captain_transfer(team, captain, member):
    with pytest.raises(ValidationError, match="Only the team captain"):
        team_transfer_captain(captain=member, new_captain=member)
    team.refresh_from_db()
    assert team.captain == captain


def test_it_refuses_to_make_an_outsider_captain(team, captain, outsider):
    with pytest.raises(ValidationError, match="another member"):
        team_transfer_captain(captain=captain, new_captain=outsider)


def test_it_kicks_a_member(team, captain, member):
    team_kick(captain=captain, member=member)
    member.refresh_from_db()
    assert member.team is None


def test_a_member_cannot_kick(team, captain, member):
    with pytest.raises(ValidationError, match="Only the team captain"):
        team_kick(captain=member, member=captain)


def test_a_captain_must_hand_over_before_leaving(team, captain, member):
    with pytest.raises(ValidationError, match="Transfer the captaincy"):
        team_leave(user=captain)
    team_transfer_captain(captain=captain, new_captain=member)
    captain.refresh_from_db()
    team_leave(user=captain)
    captain.refresh_from_db()
    assert captain.team is None
    assert list(team.members.all()) == [member]


def test_the_last_member_leaving_removes_the_empty_team(team, captain):
    team_leave(user=captain)
    assert not Team.objects.filter(pk=team.pk).exists()


def test_a_new_invite_code_retires_the_old_one(team, captain, solo):
    old = team.invite_code
    team_regenerate_invite_code(captain=captain)
    with pytest.raises(ValidationError, match="No team has that invite code"):
        team_join(user=solo, code=old)
    team.refresh_from_db()
    team_join(user=solo, code=team.invite_code)


@pytest.mark.django_db(transaction=True)
def test_two_players_racing_for_the_last_seat_only_one_gets_it(settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (make test provides it)")
    settings.TEAM_SIZE_LIMIT = 2
    captain = make_user("cap")
    team = team_create(user=captain, name="Racers")
    racers = [make_user(f"racer{n}") for n in range(6)]
    barrier = threading.Barrier(len(racers))
    outcomes = []

    def join(user: User) -> None:
        barrier.wait()
        try:
            team_join(user=user, code=team.invite_code)
            outcomes.append("joined")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=join, args=(u,)) for u in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["joined"] + ["refused"] * 5
    assert team.members.count() == 2
