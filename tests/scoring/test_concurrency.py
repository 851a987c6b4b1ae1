"""Races on PostgreSQL: many workers submitting at once score exactly once, first
bloods follow commit order, and the rate limit holds across server processes."""

import contextlib
import json
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum

from accounts.services import token_create
from challenges.models import Competition
from scoring.ledger import scores_verify
from scoring.models import (
    Principal,
    QuestionTally,
    Result,
    ScoreEvent,
    ScoreReason,
    Solve,
    Submission,
)
from scoring.selectors import principal_score
from scoring.tallies import principal_lock, question_value
from scoring.values import dynamic_value

from .factories import (
    attempt,
    flag_of,
    make_challenge,
    make_dynamic,
    player,
    principal_of,
    question_of,
)

# Threads need committed data: the tables are emptied after each test (the
# default competition is made again on demand).
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("needs_postgresql"),
]

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def competition():
    return Competition.objects.default()


def race(jobs) -> list:
    """Run the callables at the same instant, one thread and connection each."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as error:  # reported by the assertions
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_twenty_simultaneous_correct_flags_score_once(competition):
    Competition.objects.filter(pk=competition.pk).update(first_blood_bonuses=[5])
    user = player("alpha")
    challenge = make_challenge("Race", value=100)
    principal = principal_of(user)

    answers = race([lambda: attempt(user, challenge, flag_of(challenge))] * 20)

    # Past the rate limit's places in flight, the rest wait rather than queue up.
    results = [a.result for a in answers]
    assert results.count("correct") == 1
    assert set(results) <= {"correct", "already_solved", "rate_limited"}
    assert Solve.objects.count() == 1
    assert ScoreEvent.objects.filter(reason=ScoreReason.SOLVE).count() == 1
    assert ScoreEvent.objects.filter(reason=ScoreReason.FIRST_BLOOD).count() == 1
    assert Submission.objects.filter(result=Result.CORRECT).count() == 1
    assert principal_score(principal) == 105
    assert scores_verify() == []


def test_racing_first_solves_get_one_bonus_per_rank_in_commit_order(competition):
    Competition.objects.filter(pk=competition.pk).update(first_blood_bonuses=[5, 3, 1])
    users = [player(f"t{n}") for n in range(8)]
    challenge = make_challenge("First blood", value=100)
    for user in users:
        principal_of(user)

    answers = race(
        [lambda u=u: attempt(u, challenge, flag_of(challenge)) for u in users]
    )

    assert [a.result for a in answers] == ["correct"] * 8
    assert sorted(a.first_blood for a in answers) == [0, 0, 0, 0, 0, 1, 3, 5]
    bonuses = dict(
        ScoreEvent.objects.filter(reason=ScoreReason.FIRST_BLOOD).values_list(
            "principal_id", "delta"
        )
    )
    assert sorted(bonuses.values()) == [1, 3, 5]
    by_commit = list(
        Solve.objects.order_by("pk").values_list("principal_id", flat=True)
    )
    assert [bonuses.get(p, 0) for p in by_commit] == [5, 3, 1, 0, 0, 0, 0, 0]
    assert scores_verify() == []


def test_racing_solves_of_a_dynamic_challenge_leave_everyone_the_same_value(
    competition,
):
    users = [player(f"d{n}") for n in range(10)]
    challenge = make_dynamic("Dyn", initial=500, decay=10, minimum=100)
    principals = [principal_of(u) for u in users]

    race([lambda u=u: attempt(u, challenge, flag_of(challenge)) for u in users])

    value = question_value(question_of(challenge))
    assert value == 176  # ceil(500 - 4 * 9**2)
    for principal in principals:
        assert principal_score(principal) == value
    assert scores_verify() == []


# Two server processes sharing the rate limit.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def call(port: int, path: str, token: str, body: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@contextlib.contextmanager
def servers(count: int, *options: str):
    """`count` gunicorn processes on the test database (and the test Redis)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL or "",
        "DEBUG": "true",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": settings.SECRET_KEY,
        "FLAG_SECRET": settings.FLAG_SECRET,
    }
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ctfplatform.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--log-level",
                "warning",
                *options,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 60
        for port, server in zip(ports, processes, strict=True):
            while True:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "the server did not start"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
        yield ports
    finally:
        for server in processes:
            server.terminate()
        for server in processes:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            server.stderr.close()


@pytest.fixture
def two_servers(competition):
    with servers(2) as ports:
        yield ports


def test_the_rate_limit_holds_across_two_server_processes(two_servers):
    user = player("alpha")
    _, token = token_create(user=user)
    challenge = make_challenge("Shared limit")
    path = f"/api/v1/challenges/{challenge.pk}/attempt"
    status, _, me = call(two_servers[0], "/api/v1/me", token)
    assert (status, me["username"]) == (200, "alpha")

    answers = [
        call(two_servers[n % 2], path, token, {"flag": f"CTF{{guess{n}}}"})
        for n in range(3)
    ]
    assert [(s, body["result"]) for s, _, body in answers] == [(200, "wrong")] * 3
    assert answers[2][2]["retry_after"] == 30

    for port in two_servers:  # the fourth, on whichever server
        status, headers, body = call(port, path, token, {"flag": flag_of(challenge)})
        assert status == 429
        assert body["result"] == "rate_limited"
        assert headers["Retry-After"] == str(body["retry_after"])
    assert not Solve.objects.exists()
    assert (
        list(Submission.objects.order_by("pk").values_list("result", flat=True))
        == ["wrong"] * 3 + ["rate_limited"] * 2
    )


def test_the_first_flags_of_a_new_team_create_one_principal(competition):
    user = player("fresh")
    challenge = make_challenge("Fresh", value=100)

    answers = race([lambda: attempt(user, challenge, flag_of(challenge))] * 10)

    results = [a.result for a in answers]
    assert results.count("correct") == 1
    assert set(results) <= {"correct", "already_solved", "rate_limited"}
    assert principal_score(principal_of(user)) == 100
    assert Solve.objects.count() == 1


def test_parallel_wrong_flags_get_no_more_guesses_than_the_limit(competition):
    user = player("brute")
    challenge = make_challenge("Brute force")
    principal_of(user)

    answers = race(
        [lambda n=n: attempt(user, challenge, f"CTF{{{n}}}") for n in range(20)]
    )

    assert all(not isinstance(a, Exception) for a in answers)
    guesses = Submission.objects.filter(result=Result.WRONG).count()
    assert guesses <= 3


def test_fifty_principals_solving_five_dynamic_challenges_at_once_lose_nothing(
    competition,
):
    """Solver sets overlap in every order: no deadlock, no error, no lost solve."""
    Competition.objects.filter(pk=competition.pk).update(first_blood_bonuses=[5, 3])
    users = [player(f"p{n}", team=n % 2 == 0) for n in range(50)]
    challenges = [
        make_dynamic(f"Dyn {n}", initial=500, decay=20, minimum=50) for n in range(5)
    ]
    for user in users:
        principal_of(user)
    rng = random.Random(1695)
    orders = [rng.sample(challenges, len(challenges)) for _ in users]
    rounds = 3
    for round_ in range(rounds):
        # Each round every principal solves one more challenge, in its own order.
        answers = race(
            [
                lambda u=u, c=order[round_]: attempt(u, c, flag_of(c))
                for u, order in zip(users, orders, strict=True)
            ]
        )
        errors = [a for a in answers if isinstance(a, Exception)]
        assert errors == []
        assert [a.result for a in answers] == ["correct"] * len(users)

    assert Solve.objects.count() == rounds * len(users)
    assert scores_verify() == []
    for challenge in challenges:
        question = question_of(challenge)
        solvers = Solve.objects.filter(question=question).count()
        assert question_value(question) == dynamic_value(
            initial=500, decay=20, minimum=50, function="logarithmic", solves=solvers
        )
    assert_scores_recompute()


def assert_scores_recompute() -> None:
    """Every score is what a recomputation from scratch gives: each solved
    question's current value (its solve's points if static), plus first bloods."""
    bonuses = dict(
        ScoreEvent.objects.filter(reason=ScoreReason.FIRST_BLOOD)
        .values("principal")
        .annotate(t=Sum("delta"))
        .values_list("principal", "t")
    )
    expected = dict.fromkeys(Principal.objects.values_list("pk", flat=True), 0)
    for solve in Solve.objects.select_related("question__challenge"):
        dynamic = solve.question.challenge.type == "dynamic"
        expected[solve.principal_id] += (
            question_value(solve.question) if dynamic else solve.points
        )
    for pk, bonus in bonuses.items():
        expected[pk] += bonus
    scores = dict(Principal.objects.with_score().values_list("pk", "score"))
    assert scores == expected
    assert scores_verify() == []


def test_two_threaded_servers_answer_a_correct_heavy_load_without_a_5xx(competition):
    """The race that lost solves: half correct flags on dynamic challenges from
    16 connections to two gunicorn processes (gthread, 4 threads each)."""
    Competition.objects.filter(pk=competition.pk).update(
        rate_limit_attempts=10_000, first_blood_bonuses=[10, 5]
    )
    challenges = [
        make_dynamic(f"Heap {n}", initial=500, decay=30, minimum=50) for n in range(5)
    ] + [make_challenge("Static", value=100)]
    tokens = [token_create(user=player(f"g{n}", team=n % 3 != 0))[1] for n in range(48)]
    jobs = queue.SimpleQueue()
    rng = random.Random(14)
    pairs = [(t, c) for t in tokens for c in challenges]
    rng.shuffle(pairs)
    flags = {c.pk: flag_of(c) for c in challenges}
    for n, (token, challenge) in enumerate(pairs):
        jobs.put((n, token, challenge.pk, "CTF{not-it}"))
        jobs.put((n, token, challenge.pk, flags[challenge.pk]))
    answers = []

    def client(ports):  # no database access in these threads
        while True:
            try:
                n, token, challenge_id, flag = jobs.get_nowait()
            except queue.Empty:
                return
            path = f"/api/v1/challenges/{challenge_id}/attempt"
            try:
                status, _, body = call(ports[n % 2], path, token, {"flag": flag})
            except Exception as error:  # a socket error fails the test too
                status, body = None, {"error": repr(error)}
            answers.append((status, body.get("result"), flag == flags[challenge_id]))

    with servers(2, "--worker-class", "gthread", "--threads", "4") as ports:
        threads = [threading.Thread(target=client, args=(ports,)) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert len(answers) == 2 * len(pairs)
    assert [a for a in answers if a[0] != 200] == []
    assert {result for _, result, right in answers if right} == {"correct"}
    # A wrong flag may land after its pair's correct one, on another connection.
    assert {result for _, result, right in answers if not right} <= {
        "wrong",
        "already_solved",
    }
    assert Solve.objects.count() == len(pairs)
    assert_scores_recompute()


def deadlocks_detected() -> int:
    """PostgreSQL's count of deadlocks it broke in this database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def wait_for(check, seconds: float = 5.0) -> bool:
    """Poll `check` (statistics reach the view a little after the fact)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_correct_flag_aborted_as_a_deadlock_is_retried(competition):
    """Force the database to abort a solve as a deadlock (another connection
    takes the tally, then the principal's lock): the player still scores."""
    user = player("victim")
    challenge = make_dynamic("Contended", initial=500, decay=10, minimum=100)
    principal = principal_of(user)
    question = question_of(challenge)
    assert attempt(player("first"), challenge, flag_of(challenge)).points == 500
    holding, done = threading.Event(), []

    def intruder():
        with transaction.atomic():
            QuestionTally.objects.select_for_update().get(question=question)
            holding.set()
            time.sleep(0.3)  # the solve waits for the tally by now
            # The principal's advisory lock, which the waiting solve holds: a
            # cycle, and the solve (waiting longest) is the one aborted.
            principal_lock(principal.pk)
        done.append(True)
        connection.close()

    deadlocks = deadlocks_detected()
    flag = flag_of(challenge)
    thread = threading.Thread(target=intruder)
    thread.start()
    holding.wait()
    answer = attempt(user, challenge, flag)
    thread.join()

    assert done == [True]
    assert wait_for(lambda: deadlocks_detected() > deadlocks)
    assert (answer.result, answer.points) == ("correct", 496)
    assert Solve.objects.filter(principal=principal).count() == 1
    assert_scores_recompute()
