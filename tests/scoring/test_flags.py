"""Flags: static, case-insensitive, regex, derived per principal, instance flags,
and where the expected flag comes from (Redis, the TeamFlag table, derivation)."""

import os
import socket
import subprocess
import time

import pytest
from django.conf import settings
from django.test import override_settings

from scoring.flags import expected_flag, flag_issue_random, flags_prederive
from scoring.models import (
    CheatRecord,
    FlagStatus,
    Result,
    Solve,
    Submission,
    TeamFlag,
)
from scoring.selectors import principal_score
from scoring.store import READY

from .factories import (
    attempt,
    derived,
    make_challenge,
    own_flag,
    player,
    principal_of,
    question_of,
    static,
)


def redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


@pytest.fixture
def alpha(db):
    return player("alpha")


@pytest.fixture
def bravo(db):
    return player("bravo")


@pytest.fixture
def per_team(db):
    return make_challenge("Per team", flags=[derived("CTF{per_team_{hash}}")])


def test_it_accepts_a_static_flag_only_as_written(solo):
    challenge = make_challenge(flags=[static("CTF{Exact}")])

    assert attempt(solo, challenge, "ctf{exact}").result == Result.WRONG
    assert attempt(solo, challenge, "CTF{Exact}x").result == Result.WRONG
    result = attempt(solo, challenge, "CTF{Exact}")

    assert result.result == Result.CORRECT
    assert result.points == 100


def test_it_accepts_a_case_insensitive_flag_in_any_case(solo):
    challenge = make_challenge(
        flags=[{"kind": "case_insensitive", "content": "CTF{MiXeD}", "template": ""}]
    )

    assert attempt(solo, challenge, "CTF{MIXED!}").result == Result.WRONG
    assert attempt(solo, challenge, "ctf{mixed}").result == Result.CORRECT


@pytest.mark.parametrize(
    ("typed", "result"),
    [
        ("CTF{1234}", Result.CORRECT),
        ("CTF{12a4}", Result.WRONG),
        ("xCTF{1234}", Result.WRONG),
        ("CTF{1234}tail", Result.WRONG),
        ("CTF{}", Result.WRONG),
    ],
)
def test_it_accepts_a_regex_flag_only_on_a_full_match(solo, typed, result):
    challenge = make_challenge(
        flags=[{"kind": "regex", "content": r"CTF\{[0-9]+\}", "template": ""}]
    )

    assert attempt(solo, challenge, typed).result == result


def test_it_expects_a_different_derived_flag_from_each_team(alpha, bravo, per_team):
    question = question_of(per_team)
    a, b = principal_of(alpha), principal_of(bravo)
    flag_a, flag_b = own_flag(a, question), own_flag(b, question)
    assert flag_a != flag_b
    assert (
        flag_a.startswith("CTF{per_team_") and len(flag_a) == len("CTF{per_team_}") + 16
    )

    assert attempt(bravo, per_team, flag_a).result == Result.WRONG
    assert attempt(bravo, per_team, flag_b).result == Result.CORRECT
    assert attempt(alpha, per_team, flag_a).result == Result.CORRECT
    assert set(Solve.objects.values_list("principal", flat=True)) == {a.pk, b.pk}


def test_it_rotates_the_previous_instance_flag(
    alpha, per_team, django_capture_on_commit_callbacks
):
    question = question_of(per_team)
    principal = principal_of(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        first = flag_issue_random(principal=principal, question=question)
    with django_capture_on_commit_callbacks(execute=True):
        second = flag_issue_random(principal=principal, question=question)

    assert first != second
    statuses = dict(
        TeamFlag.objects.filter(principal=principal, question=question).values_list(
            "value", "status"
        )
    )
    assert statuses[first] == FlagStatus.ROTATED
    assert statuses[second] == FlagStatus.CURRENT
    assert expected_flag(principal, question) == second


def test_it_treats_its_own_rotated_flag_as_just_wrong(
    alpha, per_team, django_capture_on_commit_callbacks
):
    question = question_of(per_team)
    principal = principal_of(alpha)
    with django_capture_on_commit_callbacks(execute=True):
        first = flag_issue_random(principal=principal, question=question)
    with django_capture_on_commit_callbacks(execute=True):
        second = flag_issue_random(principal=principal, question=question)

    assert attempt(alpha, per_team, first).result == Result.WRONG
    assert not CheatRecord.objects.exists()
    principal.refresh_from_db()
    assert not principal.is_banned
    assert attempt(alpha, per_team, second).result == Result.CORRECT


def test_it_derives_a_new_principals_flags_at_once(alpha, per_team):
    static_one = make_challenge("Static one")

    principal = principal_of(alpha)

    rows = TeamFlag.objects.filter(principal=principal)
    assert [(r.question_id, r.value) for r in rows] == [
        (question_of(per_team).pk, own_flag(principal, question_of(per_team)))
    ]
    assert not rows.filter(question__challenge=static_one).exists()


def test_it_prederives_flags_of_a_new_challenge_for_existing_principals(alpha, bravo):
    principals = [principal_of(alpha), principal_of(bravo)]
    late = make_challenge("Late", flags=[derived("CTF{late_{hash}}")])
    questions = list(late.questions.all())

    assert flags_prederive(principals=principals, questions=questions) == 2
    assert flags_prederive(principals=principals, questions=questions) == 0
    values = TeamFlag.objects.filter(question__challenge=late).values_list(
        "principal_id", "value"
    )
    assert dict(values) == {p.pk: own_flag(p, questions[0]) for p in principals}


def test_it_mirrors_derived_flags_into_the_redis_hash(needs_redis, alpha, per_team):
    question = question_of(per_team)

    principal = principal_of(alpha)

    assert redis().hgetall(f"team_flags:{principal.pk}") == {
        str(question.pk).encode(): own_flag(principal, question).encode()
    }


def test_it_scores_from_the_table_after_redis_was_emptied(
    needs_redis, alpha, bravo, per_team, django_capture_on_commit_callbacks
):
    question = question_of(per_team)
    a, b = principal_of(alpha), principal_of(bravo)
    redis().flushdb()

    assert attempt(alpha, per_team, own_flag(a, question)).result == Result.CORRECT
    # The look-up put the flag back, and an owner look-up queues a reload of the
    # index (the task runs in-process here: no broker).
    assert redis().hget(f"team_flags:{a.pk}", question.pk) is not None
    with django_capture_on_commit_callbacks(execute=True):
        shared = attempt(alpha, make_challenge(), own_flag(b, question))
    assert shared.result == "wrong"
    assert CheatRecord.objects.get().owner_id == b.pk
    assert redis().get(READY) is not None
    assert redis().hget(f"team_flags:{b.pk}", question.pk) is not None


# Redis stopped mid-run: the database answers for flags and the rate limit.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_redis(needs_redis):
    """A private redis-server the test may kill; settings point at it meanwhile."""
    binary = os.environ.get("REDIS_SERVER_BIN", "redis-server")
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    caches = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        # Overriding CACHES gives fresh cache objects, hence a new connection pool.
        with override_settings(REDIS_URL=url, CACHES=caches):
            yield server, port
    finally:
        server.kill()
        server.wait()


def test_it_keeps_scoring_from_the_database_when_redis_stops(own_redis, per_team):
    server, port = own_redis
    question = question_of(per_team)
    alpha, bravo, charlie = player("alpha"), player("bravo"), player("charlie")
    a = principal_of(alpha)
    plain = make_challenge("Plain")
    assert redis().connection_pool.connection_kwargs["port"] == port
    assert redis().hget(f"team_flags:{a.pk}", question.pk) is not None

    server.kill()
    server.wait()
    started = time.monotonic()

    correct = attempt(alpha, per_team, own_flag(a, question))
    assert correct.result == Result.CORRECT
    assert principal_score(a) == 100

    results = [attempt(bravo, plain, f"CTF{{guess{n}}}") for n in range(4)]
    assert [r.result for r in results] == ["wrong", "wrong", "wrong", "rate_limited"]
    assert results[2].retry_after == 30
    assert 0 < results[3].retry_after <= 30
    assert list(
        Submission.objects.filter(principal__team__captain=bravo)
        .order_by("pk")
        .values_list("result", flat=True)
    ) == ["wrong", "wrong", "wrong", "rate_limited"]

    # The anti-cheat scan finds the owner in the table too.
    assert attempt(charlie, plain, own_flag(a, question)).result == Result.WRONG
    assert CheatRecord.objects.get().owner_id == a.pk
    # Falling back must stay fast (connection refused, no retry back-off).
    assert time.monotonic() - started < 10
