"""`manage.py generate_fixture`: what it says it creates, consistent with the ledger."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from challenges.models import Challenge
from scoring.models import Principal, PrincipalKind, ScoreEvent, Solve, TeamFlag
from scoring.tallies import question_value


def generate(*args) -> str:
    out = StringIO()
    call_command("generate_fixture", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def fixture(db):
    return generate(
        "--principals",
        "10",
        "--challenges",
        "10",
        "--solves",
        "30",
        "--seed",
        "7",
        "--prefix",
        "t",
    )


def test_it_creates_what_it_says(fixture):
    assert (
        "Fixture 't': 10 principals, 10 challenges, 30 solves, 20 derived flags "
        "(seed 7)." in fixture
    )
    assert Principal.objects.count() == 10
    assert Principal.objects.filter(kind=PrincipalKind.TEAM).count() == 5
    assert Challenge.objects.filter(identity__startswith="t/").count() == 10
    assert Challenge.objects.filter(type="dynamic").count() == 2
    assert Solve.objects.count() == 30
    assert TeamFlag.objects.count() == 20
    assert User.objects.filter(username__startswith="t-").count() >= 10
    assert ScoreEvent.objects.count() == 30


def test_verify_scores_finds_no_drift_after_it(fixture):
    out = StringIO()

    call_command("verify_scores", stdout=out)

    assert "No drift" in out.getvalue()


def test_its_dynamic_solvers_hold_the_current_value(fixture):
    for solve in Solve.objects.filter(question__challenge__type="dynamic"):
        event = ScoreEvent.objects.get(
            principal=solve.principal, question=solve.question
        )
        assert event.delta == question_value(solve.question)


def solves_of(prefix: str) -> list[tuple[str, str]]:
    """Who solved what in one fixture, with its prefix taken out of the names."""
    rows = Solve.objects.filter(
        question__challenge__identity__startswith=f"{prefix}/"
    ).select_related("principal__team", "principal__user", "question__challenge")
    return sorted(
        (
            str(s.principal).replace(prefix, "?", 1),
            s.question.challenge.identity.replace(prefix, "?", 1),
        )
        for s in rows
    )


def test_it_is_repeatable_with_the_same_seed(fixture):
    generate(
        "--principals",
        "10",
        "--challenges",
        "10",
        "--solves",
        "30",
        "--seed",
        "7",
        "--prefix",
        "u",
    )

    assert solves_of("u") == solves_of("t")
    assert len(solves_of("u")) == 30


def test_it_refuses_more_solves_than_pairs(db):
    with pytest.raises(CommandError, match="cannot exceed"):
        generate("--principals", "2", "--challenges", "2", "--solves", "5")


def test_it_refuses_a_prefix_in_use(fixture):
    with pytest.raises(CommandError, match="exists"):
        generate(
            "--principals", "1", "--challenges", "1", "--solves", "1", "--prefix", "t"
        )
