"""The score ledger: dynamic values, decay events, bans moving values, first-blood
bonuses, hints, manual adjustments, and totals that always match the ledger."""

import math
import random
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import Sum

from audit.models import EventLog, EventType
from challenges.models import Competition
from scoring.ledger import scores_verify
from scoring.models import (
    Principal,
    Result,
    ScoreEvent,
    ScoreReason,
    Solve,
    ValueChange,
)
from scoring.scoreboard import score_steps
from scoring.selectors import principal_score
from scoring.services import (
    hint_unlock,
    principal_set_banned,
    principal_set_hidden,
    score_adjust,
    solve_delete,
)
from scoring.tallies import question_value
from scoring.values import dynamic_value

from .factories import (
    attempt,
    derived,
    flag_of,
    make_challenge,
    make_dynamic,
    make_hint,
    own_flag,
    player,
    principal_of,
    question_of,
)


def ctfd_logarithmic(initial, decay, minimum, solves):
    """CTFd's `logarithmic` decay (plugins/dynamic_challenges/decay.py)."""
    solve_count = solves - 1 if solves else 0
    decay = decay or 1
    value = (((minimum - initial) / (decay**2)) * (solve_count**2)) + initial
    return max(minimum, math.ceil(value))


# Operations of the random game (about 70% of them submissions).
RANDOM_STEPS = 2000

# (function, initial, decay, minimum, solves) -> value
VALUES = [
    ("logarithmic", 500, 10, 100, 0, 500),
    ("logarithmic", 500, 10, 100, 1, 500),
    ("logarithmic", 500, 10, 100, 2, 496),
    ("logarithmic", 500, 10, 100, 3, 484),
    ("logarithmic", 500, 10, 100, 5, 436),
    ("logarithmic", 500, 10, 100, 11, 100),
    ("logarithmic", 500, 10, 100, 50, 100),
    ("logarithmic", 100, 7, 10, 2, 99),
    ("logarithmic", 100, 7, 10, 3, 93),
    ("logarithmic", 100, 7, 10, 6, 55),
    ("logarithmic", 500, 0, 100, 1, 500),
    ("logarithmic", 500, 0, 100, 2, 100),
    ("linear", 500, 50, 100, 0, 500),
    ("linear", 500, 50, 100, 1, 500),
    ("linear", 500, 50, 100, 2, 450),
    ("linear", 500, 50, 100, 5, 300),
    ("linear", 500, 50, 100, 9, 100),
    ("linear", 500, 50, 100, 30, 100),
    ("linear", 500, 0, 100, 30, 500),
]


@pytest.mark.parametrize(
    ("function", "initial", "decay", "minimum", "solves", "value"), VALUES
)
def test_it_decays_values_like_ctfd(function, initial, decay, minimum, solves, value):
    assert (
        dynamic_value(
            initial=initial,
            decay=decay,
            minimum=minimum,
            function=function,
            solves=solves,
        )
        == value
    )
    if function == "logarithmic":
        assert ctfd_logarithmic(initial, decay, minimum, solves) == value


def total_for(principal, question) -> int:
    """What `principal` holds for `question` (first bloods aside): its solve's
    points and the value changes since, as its ledger page adds them up."""
    steps = score_steps(Competition.objects.default(), [principal.pk])
    bonus = ScoreEvent.objects.filter(
        principal=principal, question=question, reason=ScoreReason.FIRST_BLOOD
    ).aggregate(t=Sum("delta"))["t"]
    return sum(delta for _, _, q, delta in steps if q == question.pk) - (bonus or 0)


@pytest.fixture
def teams(db):
    return [player(name) for name in ("alpha", "bravo", "charlie", "delta")]


@pytest.fixture
def dynamic(db):
    return make_dynamic("Dyn", initial=500, decay=10, minimum=100)


def solve_all(users, challenge):
    return [attempt(u, challenge, flag_of(challenge)) for u in users]


def scores(users) -> list[int]:
    return [principal_score(principal_of(u)) for u in users]


def test_the_first_solver_gets_the_full_value(teams, dynamic):
    first = attempt(teams[0], dynamic, flag_of(dynamic))

    assert (first.result, first.points) == (Result.CORRECT, 500)
    assert first.message == "Correct! +500 points."


def test_a_new_solve_moves_every_earlier_solver_to_the_new_value(teams, dynamic):
    question = question_of(dynamic)
    solve_all(teams[:2], dynamic)
    before = set(ScoreEvent.objects.values_list("pk", flat=True))

    third = attempt(teams[2], dynamic, flag_of(dynamic))

    assert third.points == 484
    # One event, the new solver's: the earlier solvers' rows are not touched.
    new = ScoreEvent.objects.exclude(pk__in=before)
    assert list(new.values_list("principal", "delta", "reason")) == [
        (principal_of(teams[2]).pk, 484, ScoreReason.SOLVE)
    ]
    assert list(
        ValueChange.objects.filter(question=question).values_list("value", flat=True)
    ) == [496, 484]
    assert scores(teams[:3]) == [484, 484, 484]
    assert [total_for(principal_of(u), question) for u in teams[:3]] == [484] * 3


def test_banning_a_solver_gives_the_others_their_points_back(organizer, teams, dynamic):
    solve_all(teams[:3], dynamic)
    cheater = principal_of(teams[2])

    principal_set_banned(principal=cheater, banned=True, actor=organizer)
    assert scores(teams[:2]) == [496, 496]

    principal_set_banned(principal=cheater, banned=False, actor=organizer)
    assert scores(teams[:3]) == [484, 484, 484]
    assert scores_verify() == []


def test_hiding_a_solver_moves_the_others_points_too(organizer, teams, dynamic):
    solve_all(teams[:3], dynamic)
    hidden = principal_of(teams[0])

    assert principal_set_hidden(principal=hidden, hidden=True, actor=organizer)
    assert scores(teams[1:3]) == [496, 496]
    # The next public solver is the third public one.
    assert attempt(teams[3], dynamic, flag_of(dynamic)).points == 484
    assert scores(teams[1:4]) == [484, 484, 484]

    assert principal_set_hidden(principal=hidden, hidden=False, actor=organizer)
    assert scores(teams) == [464, 464, 464, 464]
    assert scores_verify() == []


def test_it_writes_first_blood_bonuses_as_their_own_events(teams):
    Competition.objects.filter(is_default=True).update(first_blood_bonuses=[5, 3, 1])
    challenge = make_challenge("Race", value=100)

    answers = solve_all(teams, challenge)

    assert [a.first_blood for a in answers] == [5, 3, 1, 0]
    assert answers[0].message == "Correct! +100 points and a first-blood bonus of 5."
    bonuses = ScoreEvent.objects.filter(reason=ScoreReason.FIRST_BLOOD)
    assert list(bonuses.order_by("pk").values_list("principal", "delta")) == [
        (principal_of(teams[0]).pk, 5),
        (principal_of(teams[1]).pk, 3),
        (principal_of(teams[2]).pk, 1),
    ]
    assert scores(teams) == [105, 103, 101, 100]


def test_a_hint_with_a_cost_is_paid_once(solo):
    hint = make_hint(make_challenge(), cost=25)
    principal = principal_of(solo)

    assert hint_unlock(principal=principal, hint=hint, user=solo)
    assert not hint_unlock(principal=principal, hint=hint, user=solo)

    event = ScoreEvent.objects.get()
    assert (event.reason, event.delta) == (ScoreReason.HINT, -25)
    assert principal_score(principal) == -25


def test_a_free_hint_writes_nothing_to_the_ledger(solo):
    hint = make_hint(make_challenge(), cost=0)

    assert hint_unlock(principal=principal_of(solo), hint=hint, user=solo)
    assert not ScoreEvent.objects.exists()


def test_an_organizer_adjusts_a_score(organizer, solo):
    principal = principal_of(solo)

    score_adjust(principal=principal, delta=50, note=" writeup prize ", actor=organizer)

    assert principal_score(principal) == 50
    event = ScoreEvent.objects.get()
    assert (event.reason, event.note, event.actor) == (
        "admin",
        "writeup prize",
        organizer,
    )
    assert str(event) == f"+50 admin:writeup prize for {principal}"
    audit = EventLog.objects.get(event_type=EventType.SCORE_ADJUSTED)
    assert (audit.actor, audit.principal_id, audit.message) == (
        organizer,
        principal.pk,
        "+50 admin:writeup prize",
    )


@pytest.mark.parametrize(("delta", "note"), [(10, "  "), (0, "nothing")])
def test_an_adjustment_needs_a_reason_and_a_delta(organizer, solo, delta, note):
    with pytest.raises(ValidationError):
        score_adjust(
            principal=principal_of(solo), delta=delta, note=note, actor=organizer
        )
    assert not ScoreEvent.objects.exists()


def test_verify_scores_reports_drift_and_fix_repairs_it(solo, captain):
    challenge = make_challenge()
    attempt(solo, challenge, flag_of(challenge))
    principal_of(captain)
    Principal.objects.filter(user=solo).update(ledger_total=12345)
    out = StringIO()

    with pytest.raises(SystemExit) as exit_:
        call_command("verify_scores", stdout=out)

    assert exit_.value.code == 1
    assert "total 12345, ledger 100" in out.getvalue()
    assert "1 principal(s) drifted" in out.getvalue()

    call_command("verify_scores", "--fix", stdout=StringIO())
    assert principal_score(principal_of(solo)) == 100
    out = StringIO()
    call_command("verify_scores", stdout=out)
    assert "No drift" in out.getvalue()


def test_a_solve_counts_and_removing_it_uncounts(organizer, solo):
    warmup, pwn = make_challenge(value=100), make_challenge(value=50)
    attempt(solo, warmup, flag_of(warmup))
    attempt(solo, pwn, flag_of(pwn))
    assert principal_of(solo).solve_count == 2

    solve_delete(
        solve=Solve.objects.get(question__challenge=pwn), actor=organizer, reason="x"
    )

    assert principal_of(solo).solve_count == 1
    assert scores_verify() == []


def test_verify_scores_repairs_a_drifted_solve_count(solo):
    challenge = make_challenge()
    attempt(solo, challenge, flag_of(challenge))
    Principal.objects.filter(user=solo).update(solve_count=7)
    out = StringIO()

    with pytest.raises(SystemExit):
        call_command("verify_scores", stdout=out)

    assert "solve count 7, solves 1" in out.getvalue()
    call_command("verify_scores", "--fix", stdout=StringIO())
    assert principal_of(solo).solve_count == 1
    assert scores_verify() == []


def test_a_long_random_game_never_drifts(organizer):
    """Seeded: solves, wrong and shared flags, bans, hides, hints, adjustments."""
    rng = random.Random(20240607)
    Competition.objects.filter(is_default=True).update(
        rate_limit_attempts=30000, first_blood_bonuses=[10, 5, 2]
    )
    users = [player(f"p{n}", team=n % 3 != 0) for n in range(20)]
    challenges = (
        [
            make_dynamic(initial=500, decay=rng.randint(0, 6), minimum=50)
            for _ in range(5)
        ]
        + [
            make_dynamic(initial=300, decay=20, minimum=40, function="linear")
            for _ in range(3)
        ]
        + [make_challenge(value=rng.choice([50, 100, 200])) for _ in range(4)]
        + [make_challenge(flags=[derived("CTF{d_{hash}}")]) for _ in range(2)]
        + [make_challenge(questions=("a", "b"), value=75)]
    )
    hints = [make_hint(c, cost=rng.choice([0, 5, 20])) for c in challenges[::2]]
    principals = [principal_of(u) for u in users]

    def right_flag(user, question):
        if question.flags[0]["kind"] == "derived":
            return own_flag(principal_of(user), question)
        return question.flags[0]["content"]

    for step in range(RANDOM_STEPS):
        user = rng.choice(users)
        principal = principals[users.index(user)]
        roll = rng.random()
        if roll < 0.7:
            challenge = rng.choice(challenges)
            question = rng.choice(list(challenge.questions.all()))
            typed = right_flag(user, question) if rng.random() < 0.4 else f"x{step}"
            if rng.random() < 0.05:  # someone else's flag
                typed = right_flag(rng.choice(users), question)
            attempt(user, challenge, typed, question=question)
        elif roll < 0.78:
            principal_set_banned(
                principal=principal, banned=rng.random() < 0.5, actor=organizer
            )
        elif roll < 0.85:
            principal_set_hidden(
                principal=principal, hidden=rng.random() < 0.5, actor=organizer
            )
        elif roll < 0.94:
            hint_unlock(principal=principal, hint=rng.choice(hints), user=user)
        else:
            score_adjust(
                principal=principal,
                delta=rng.choice([-30, -5, 5, 40]),
                note=f"step {step}",
                actor=organizer,
            )
        if step % 500 == 499:
            assert scores_verify() == []

    assert scores_verify() == []
    assert Solve.objects.count() > 100
    assert ValueChange.objects.count() > 20
    # Every solver of a dynamic question holds exactly its current value.
    for challenge in challenges[:8]:
        question = question_of(challenge)
        for solve in Solve.objects.filter(question=question):
            assert total_for(solve.principal, question) == question_value(question)


def test_deleting_a_challenge_takes_its_points_back(teams, dynamic):
    # The admin refuses while solves exist (they are read-only history), but
    # its question inlines delete questions, and code may delete either: every
    # path goes through the same pre-delete step.
    static = make_challenge("Warmup", value=100)
    solve_all(teams[:3], dynamic)
    solve_all(teams[:2], static)

    dynamic.delete()

    assert scores(teams[:3]) == [100, 100, 0]
    assert [principal_of(u).solve_count for u in teams[:3]] == [1, 1, 0]
    assert scores_verify() == []
    audit = EventLog.objects.get(event_type=EventType.SCORE_ADJUSTED)
    assert "3 solve(s) reversed" in audit.message


def test_deleting_a_question_keeps_the_others_and_the_frozen_past(teams):
    two = make_dynamic("Two parts", questions=("a", "b"), initial=500, decay=10)
    for user in teams[:3]:
        attempt(
            user,
            two,
            question_of(two, "a").flags[0]["content"],
            question=question_of(two, "a"),
        )
    attempt(
        teams[0],
        two,
        question_of(two, "b").flags[0]["content"],
        question=question_of(two, "b"),
    )

    question_of(two, "a").delete()

    assert scores(teams[:3]) == [500, 0, 0]
    assert [principal_of(u).solve_count for u in teams[:3]] == [1, 0, 0]
    assert scores_verify() == []


def test_deleting_a_principal_gives_the_other_solvers_their_points_back(teams, dynamic):
    solve_all(teams[:3], dynamic)
    assert scores(teams[:3]) == [484, 484, 484]

    principal_of(teams[2]).delete()

    assert not Principal.objects.filter(team__name="Team charlie").exists()
    assert scores(teams[:2]) == [496, 496]
    assert scores_verify() == []


def test_new_decay_settings_move_every_solvers_points(teams, dynamic):
    solve_all(teams[:3], dynamic)

    dynamic.decay_initial, dynamic.decay_minimum = 600, 200
    dynamic.save()  # as a rescan or the admin saves it

    assert scores(teams[:3]) == [584, 584, 584]  # 600 - 400 / 10**2 * 2**2
    assert question_value(question_of(dynamic)) == 584
    assert scores_verify() == []
