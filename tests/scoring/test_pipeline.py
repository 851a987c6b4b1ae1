"""The submission pipeline: the order of its checks, rate limits and caps, and
what a submission keeps (a hash, never the text)."""

import hashlib
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import EventLog
from challenges.models import Competition
from scoring.models import (
    AttemptReset,
    Principal,
    PrincipalKind,
    Result,
    ScoreEvent,
    Solve,
    Submission,
)
from scoring.selectors import principal_score
from scoring.services import principal_set_banned, question_attempts_reset

from .factories import (
    attempt,
    flag_of,
    make_challenge,
    player,
    principal_of,
    question_of,
    static,
)


@pytest.fixture
def challenge(db):
    return make_challenge("Warmup")


@pytest.fixture
def flag(challenge):
    return flag_of(challenge)


def results(user) -> list[str]:
    return list(
        Submission.objects.filter(user=user)
        .order_by("pk")
        .values_list("result", flat=True)
    )


def lock_out(user, challenge) -> None:
    """Three wrong flags: the default rate limit locks the principal out."""
    for n in range(3):
        attempt(user, challenge, f"CTF{{nope{n}}}")


# 1. Who may submit at all.


def test_it_refuses_a_banned_principal(solo, challenge, flag):
    principal_set_banned(principal=principal_of(solo), banned=True)

    result = attempt(solo, challenge, flag)

    assert result.result == Result.REFUSED
    assert result.message == "Your team is banned from this competition."
    assert results(solo) == ["refused"]
    assert not Solve.objects.exists()


def test_it_refuses_a_banned_principal_even_for_what_it_solved(solo, challenge, flag):
    attempt(solo, challenge, flag)
    principal_set_banned(principal=principal_of(solo), banned=True)

    assert attempt(solo, challenge, flag).result == Result.REFUSED


@pytest.mark.parametrize(
    ("starts", "ends"),
    [(timedelta(hours=1), None), (None, timedelta(hours=-1))],
    ids=["not-started", "ended"],
)
def test_it_refuses_outside_the_competition_window(solo, challenge, flag, starts, ends):
    now = timezone.now()
    Competition.objects.filter(is_default=True).update(
        starts_at=now + starts if starts else None, ends_at=now + ends if ends else None
    )

    result = attempt(solo, challenge, flag)

    assert result.result == Result.REFUSED
    assert result.message == "Submissions are closed: the competition is not running."
    assert not Solve.objects.exists()
    assert Submission.objects.get().reason == result.message


def test_it_refuses_a_challenge_locked_by_its_requirement(solo, challenge, flag):
    gated = make_challenge(
        "Gated", requirement='(COMPLETED "Warmup")', locked_visibility="locked"
    )

    result = attempt(solo, gated, flag_of(gated))
    assert result.result == Result.REFUSED
    assert result.message == "This challenge is locked."

    attempt(solo, challenge, flag)
    assert attempt(solo, gated, flag_of(gated)).result == Result.CORRECT


def test_it_refuses_a_question_of_another_challenge(solo, challenge):
    other = make_challenge("Other")

    result = attempt(solo, challenge, flag_of(other), question=question_of(other))

    assert result.result == Result.REFUSED
    assert not Submission.objects.exists()


def test_it_needs_the_question_when_a_challenge_has_several(solo):
    challenge = make_challenge("Two parts", questions=("one", "two"))

    result = attempt(solo, challenge, flag_of(challenge, "two"))
    assert result.result == Result.REFUSED
    assert result.message == "Say which question this flag answers."

    two = question_of(challenge, "two")
    assert attempt(solo, challenge, flag_of(challenge, "two"), question=two).result == (
        Result.CORRECT
    )


# 2. Already solved.


def test_it_answers_already_solved_without_a_new_submission(solo, challenge, flag):
    attempt(solo, challenge, flag)

    again = attempt(solo, challenge, flag)

    assert again.result == Result.ALREADY_SOLVED
    assert again.points == 0
    assert results(solo) == ["correct"]
    assert ScoreEvent.objects.count() == 1
    assert principal_score(principal_of(solo)) == 100


def test_it_answers_already_solved_before_the_rate_limit(solo, challenge, flag):
    attempt(solo, challenge, flag)
    lock_out(solo, make_challenge())

    assert attempt(solo, challenge, flag).result == Result.ALREADY_SOLVED


# 3. Rate limit and caps.


def test_it_locks_out_after_three_wrong_flags(solo, challenge, flag):
    third = [attempt(solo, challenge, f"CTF{{no{n}}}") for n in range(3)][-1]
    assert third.result == Result.WRONG
    assert third.message == (
        "Wrong flag. You submitted 3 wrong flags in 30 s; "
        "submissions are paused for 30 s."
    )

    fourth = attempt(solo, challenge, flag)

    assert fourth.result == Result.RATE_LIMITED
    assert 0 < fourth.retry_after <= 30
    assert fourth.message == (
        "You submitted 3 wrong flags in 30 s; "
        f"submissions are paused for {fourth.retry_after} s."
    )
    assert results(solo) == ["wrong", "wrong", "wrong", "rate_limited"]
    assert not Solve.objects.exists()


def test_it_locks_out_the_whole_team(captain, member, challenge, flag):
    lock_out(captain, challenge)

    limited = attempt(member, make_challenge(), flag)

    assert limited.result == Result.RATE_LIMITED
    assert limited.message == (
        "Your team submitted 3 wrong flags in 30 s; "
        f"submissions are paused for {limited.retry_after} s."
    )


def test_it_lets_the_player_in_again_after_the_lockout(solo, challenge, flag):
    Competition.objects.filter(is_default=True).update(rate_limit_lockout=1)
    lock_out(solo, challenge)
    assert attempt(solo, challenge, flag).result == Result.RATE_LIMITED

    time.sleep(1.1)

    assert attempt(solo, challenge, flag).result == Result.CORRECT


def test_it_clears_the_wrong_counter_on_a_correct_flag(solo, challenge, flag):
    other = make_challenge()
    attempt(solo, other, "CTF{no1}")
    attempt(solo, other, "CTF{no2}")

    assert attempt(solo, challenge, flag).result == Result.CORRECT
    assert attempt(solo, other, "CTF{no3}").result == Result.WRONG
    assert attempt(solo, other, "CTF{no4}").retry_after == 0
    assert attempt(solo, other, "CTF{no5}").retry_after == 30
    assert attempt(solo, other, flag_of(other)).result == Result.RATE_LIMITED


def _fresh_attempts_after_a_lockout(solo, challenge, flag):
    Competition.objects.filter(is_default=True).update(
        rate_limit_lockout=1, rate_limit_window=60
    )
    lock_out(solo, challenge)
    time.sleep(1.1)

    # A new round: one wrong flag after the lockout is not a fourth strike.
    assert attempt(solo, challenge, "CTF{again}").retry_after == 0
    assert attempt(solo, challenge, flag).result == Result.CORRECT


def test_it_gives_fresh_attempts_after_a_lockout(needs_redis, solo, challenge, flag):
    _fresh_attempts_after_a_lockout(solo, challenge, flag)


def test_it_gives_fresh_attempts_after_a_lockout_without_redis(
    settings, solo, challenge, flag
):
    settings.REDIS_URL = ""  # the store is down: the database keeps the rule

    _fresh_attempts_after_a_lockout(solo, challenge, flag)


def test_it_refuses_once_the_question_cap_is_used(solo):
    Competition.objects.filter(is_default=True).update(rate_limit_attempts=10)
    capped = make_challenge("Capped", attempts=2)
    attempt(solo, capped, "CTF{a}")
    attempt(solo, capped, "CTF{b}")

    result = attempt(solo, capped, flag_of(capped))

    assert result.result == Result.REFUSED
    assert result.message == "No attempts left for this question (2 used)."
    assert results(solo) == ["wrong", "wrong", "refused"]


def test_it_counts_the_cap_from_the_latest_reset(solo, organizer):
    Competition.objects.filter(is_default=True).update(rate_limit_attempts=10)
    capped = make_challenge("Capped", attempts=2)
    principal, question = principal_of(solo), question_of(capped)
    attempt(solo, capped, "CTF{a}")
    attempt(solo, capped, "CTF{b}")
    question_attempts_reset(
        principal=principal, question=question, admin=organizer, reason="typo"
    )
    attempt(solo, capped, "CTF{c}")
    question_attempts_reset(
        principal=principal, question=question, admin=organizer, reason="again"
    )

    assert attempt(solo, capped, "CTF{d}").result == Result.WRONG
    assert attempt(solo, capped, "CTF{e}").result == Result.WRONG
    assert attempt(solo, capped, flag_of(capped)).result == Result.REFUSED


def test_a_reset_writes_a_baseline_and_deletes_nothing(solo, organizer):
    capped = make_challenge("Capped", attempts=2)
    attempt(solo, capped, "CTF{a}")
    attempt(solo, capped, "CTF{b}")
    before = list(Submission.objects.values_list("pk", "result"))

    reset = question_attempts_reset(
        principal=principal_of(solo),
        question=question_of(capped),
        admin=organizer,
        reason="  Support ticket 12  ",
    )

    assert list(Submission.objects.values_list("pk", "result")) == before
    assert AttemptReset.objects.get() == reset
    assert (reset.admin, reset.reason) == (organizer, "Support ticket 12")
    assert attempt(solo, capped, flag_of(capped)).result == Result.CORRECT


def test_a_reset_needs_a_reason(solo, organizer, challenge):
    with pytest.raises(ValidationError, match="Say why"):
        question_attempts_reset(
            principal=principal_of(solo),
            question=question_of(challenge),
            admin=organizer,
            reason=" ",
        )
    assert not AttemptReset.objects.exists()


# What is stored.


@pytest.mark.parametrize("typed", ["x" * 1025, "é" * 513, "CTF{" + "a" * 2000 + "}"])
def test_it_refuses_input_over_one_kilobyte_and_stores_nothing(solo, challenge, typed):
    result = attempt(solo, challenge, typed)

    assert result.result == Result.REFUSED
    assert result.message == "That is too long to be a flag (1 KB at most)."
    assert not Submission.objects.exists()
    assert not Principal.objects.exists()


def test_it_takes_exactly_one_kilobyte(solo, challenge):
    assert attempt(solo, challenge, "x" * 1024).result == Result.WRONG


def test_it_stores_the_sha256_of_the_flag_and_never_the_text(solo, challenge, flag):
    wrong = "CTF{my_very_own_guess}"
    attempt(solo, challenge, wrong, ip="198.51.100.2", user_agent="curl/8.5")
    attempt(solo, challenge, flag, ip="198.51.100.2", user_agent="curl/8.5")

    stored = list(Submission.objects.order_by("pk").values())
    assert [row["flag_hash"] for row in stored] == [
        hashlib.sha256(wrong.encode()).hexdigest(),
        hashlib.sha256(flag.encode()).hexdigest(),
    ]
    for raw in (wrong, flag, "my_very_own_guess"):
        for row in stored:
            assert all(raw not in str(value) for value in row.values())
        for row in EventLog.objects.values():
            assert all(raw not in str(value) for value in row.values())


def test_it_keeps_the_ip_and_the_user_agent(solo, challenge, flag):
    attempt(
        solo, challenge, "CTF{no}", ip="203.0.113.9", user_agent="Mozilla/5.0 (X11)"
    )
    attempt(solo, challenge, flag, ip="2001:db8::1", user_agent="u" * 500)

    rows = list(Submission.objects.order_by("pk").values_list("ip", "user_agent"))
    assert rows == [("203.0.113.9", "Mozilla/5.0 (X11)"), ("2001:db8::1", "u" * 300)]


# Teams and solo players.


def test_a_team_scores_once_for_all_its_members(captain, member, team, challenge, flag):
    assert attempt(member, challenge, flag).result == Result.CORRECT

    assert attempt(captain, challenge, flag).result == Result.ALREADY_SOLVED
    principal = Principal.objects.get()
    assert (principal.kind, principal.team, principal_score(principal)) == (
        PrincipalKind.TEAM,
        team,
        100,
    )
    assert Solve.objects.get().user == member


def test_a_user_without_a_team_plays_solo_in_the_default_competition(
    solo, challenge, flag
):
    assert attempt(solo, challenge, flag).result == Result.CORRECT

    principal = Principal.objects.get()
    assert (principal.kind, principal.user, principal.team) == (
        PrincipalKind.SOLO,
        solo,
        None,
    )


def test_a_team_only_competition_refuses_a_user_without_a_team(solo, challenge, flag):
    teams_only = Competition.objects.create(
        name="Teams", slug="teams", play_mode="teams"
    )

    result = attempt(solo, challenge, flag, competition=teams_only)

    assert result.result == Result.REFUSED
    assert result.message == "Join a team to play in this competition."
    assert not Principal.objects.exists()
    assert not Submission.objects.exists()


def test_a_team_plays_in_a_team_only_competition(db, challenge, flag):
    user = player("alpha")
    teams_only = Competition.objects.create(
        name="Teams", slug="teams", play_mode="teams"
    )

    assert attempt(user, challenge, flag, competition=teams_only).result == "correct"
    assert Principal.objects.get().competition == teams_only


def test_a_flag_is_compared_without_surrounding_whitespace(solo):
    challenge = make_challenge(flags=[static("CTF{spaces}")])

    assert attempt(solo, challenge, "  CTF{spaces}\n").result == Result.CORRECT
