"""The attempt's hot path: per-worker copies and Redis copies never outlive a change.

A wrong flag costs one SQL statement once the worker and Redis are warm; every
change an organizer or player makes (a ban, a removed solve, a decoy, a hidden
challenge, a closed competition, a revoked token, a new team) shows on the very
next attempt all the same.
"""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_redis import get_redis_connection

from accounts.models import User
from accounts.services import team_create, token_create, token_revoke
from challenges.models import ChallengeState, Competition
from challenges.services import challenge_set_state
from scoring import store
from scoring.derivation import flag_hash
from scoring.flags import flags_reindex
from scoring.ledger import scores_verify
from scoring.models import (
    CheatKind,
    CheatRecord,
    Principal,
    PrincipalKind,
    Result,
    ScoreEvent,
    ScoreReason,
    Solve,
)
from scoring.selectors import principal_score
from scoring.services import decoy_create, principal_set_banned, solve_delete
from scoring.tallies import tallies_recount, value_of

from .factories import (
    attempt,
    derived,
    flag_of,
    make_challenge,
    make_dynamic,
    own_flag,
    player,
    principal_of,
    question_of,
)


@pytest.fixture
def challenge(db):
    return make_challenge("Warmup", value=100)


@pytest.fixture
def token(solo):
    return token_create(user=solo)


def api_client(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def submit(client: Client, challenge, flag: str):
    return client.post(
        f"/api/v1/challenges/{challenge.pk}/attempt",
        {"flag": flag},
        content_type="application/json",
    )


def result(client: Client, challenge, flag: str) -> str:
    response = submit(client, challenge, flag)
    assert response.status_code in (200, 429), response.content
    return response.json()["result"]


def redis_round_trips(monkeypatch) -> list:
    import redis.client

    calls = []
    original = redis.client.Redis.execute_command

    def counted(self, *args, **kwargs):
        calls.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Redis, "execute_command", counted)
    return calls


def test_a_warm_wrong_flag_costs_one_insert_and_two_redis_calls(
    needs_redis, token, challenge, monkeypatch
):
    flags_reindex()  # the flag index is complete, as after `manage.py flags_reindex`
    client = api_client(token[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG
    calls = redis_round_trips(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        assert result(client, challenge, "CTF{nope}") == Result.WRONG

    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]
    # The cached token and the attempt script (the catalog version was read by
    # the warm-up less than a second ago).
    assert calls == ["GET", "EVALSHA"]


def test_a_ban_refuses_the_next_attempt_and_an_unban_lifts_it(
    token, solo, challenge, organizer
):
    client = api_client(token[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG

    principal_set_banned(principal=principal_of(solo), banned=True, actor=organizer)
    assert result(client, challenge, flag_of(challenge)) == Result.REFUSED
    principal_set_banned(principal=principal_of(solo), banned=False, actor=organizer)

    assert result(client, challenge, flag_of(challenge)) == Result.CORRECT


def test_a_removed_solve_can_be_solved_again(token, solo, challenge, organizer):
    client = api_client(token[1])
    assert result(client, challenge, flag_of(challenge)) == Result.CORRECT
    assert result(client, challenge, "CTF{late}") == Result.ALREADY_SOLVED

    solve_delete(solve=Solve.objects.get(), actor=organizer, reason="typo in flag")

    assert result(client, challenge, flag_of(challenge)) == Result.CORRECT


def test_a_decoy_planted_mid_event_is_caught(
    token, solo, challenge, django_capture_on_commit_callbacks
):
    client = api_client(token[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG

    with django_capture_on_commit_callbacks(execute=True):
        decoy_create(competition=Competition.objects.default(), value="CTF{leak}")
    assert result(client, challenge, "CTF{leak}") == Result.WRONG

    assert CheatRecord.objects.get().kind == CheatKind.DECOY


def test_a_challenge_hidden_mid_event_answers_404_at_once(token, challenge):
    client = api_client(token[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG

    challenge_set_state(
        challenges=type(challenge).objects.filter(pk=challenge.pk),
        state=ChallengeState.HIDDEN,
    )

    assert submit(client, challenge, flag_of(challenge)).status_code == 404


def test_a_competition_closed_in_the_admin_refuses_at_once(token, challenge):
    client = api_client(token[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG

    competition = Competition.objects.default()
    competition.ends_at = timezone.now() - timedelta(minutes=1)
    competition.save()

    assert result(client, challenge, flag_of(challenge)) == Result.REFUSED


def test_a_revoked_token_is_refused_at_once(token, challenge):
    client = api_client(token[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG

    token_revoke(token=token[0])

    assert submit(client, challenge, flag_of(challenge)).status_code == 401


def test_a_player_who_founds_a_team_scores_for_it_at_once(token, solo, challenge):
    client = api_client(token[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG

    team = team_create(user=solo, name="Latecomers")
    assert result(client, challenge, flag_of(challenge)) == Result.CORRECT

    assert Solve.objects.get().principal.team == team


def test_answers_stay_right_when_redis_loses_everything(needs_redis, db):
    per_team = make_challenge("Per team", flags=[derived("CTF{pt_{hash}}")])
    alpha, bravo = player("alpha"), player("bravo")
    alpha_client = api_client(token_create(user=alpha)[1])
    bravo_client = api_client(token_create(user=bravo)[1])
    alpha_flag = own_flag(principal_of(alpha), question_of(per_team))
    assert result(alpha_client, per_team, alpha_flag) == Result.CORRECT
    assert result(bravo_client, per_team, "CTF{warm-up}") == Result.WRONG

    get_redis_connection("default").flushdb()  # a restart without persistence

    assert result(alpha_client, per_team, "CTF{again}") == Result.ALREADY_SOLVED
    assert result(bravo_client, per_team, alpha_flag) == Result.WRONG
    assert CheatRecord.objects.get().kind == CheatKind.SHARE
    bravo_flag = own_flag(principal_of(bravo), question_of(per_team))
    assert result(bravo_client, per_team, bravo_flag) == Result.CORRECT


def test_flags_reindex_reloads_the_flag_index_after_redis_lost_it(needs_redis, db):
    per_team = make_challenge("Per team", flags=[derived("CTF{pt_{hash}}")])
    alpha = player("alpha")
    alpha_flag = own_flag(principal_of(alpha), question_of(per_team))
    get_redis_connection("default").flushdb()
    with pytest.raises(store.StoreDown):
        store.flag_owner(flag_hash(alpha_flag))  # a miss would prove nothing

    out = StringIO()
    call_command("flags_reindex", stdout=out)

    owner = store.flag_owner(flag_hash(alpha_flag))
    assert owner == (principal_of(alpha).pk, question_of(per_team).pk, "current")
    assert "flags loaded into Redis" in out.getvalue()


def test_a_refused_capped_attempt_does_not_wipe_the_lockout_window(needs_redis, solo):
    # Three wrong flags in the window lock out (the default); a refusal by the
    # question's cap gives its place back but must keep the two before it.
    open_one, capped = make_challenge("Open"), make_challenge("Capped", attempts=1)
    assert attempt(solo, open_one, "CTF{a}").result == Result.WRONG
    assert attempt(solo, capped, "CTF{b}").result == Result.WRONG
    assert attempt(solo, capped, "CTF{c}").result == Result.REFUSED

    third = attempt(solo, open_one, "CTF{d}")

    assert third.result == Result.WRONG and third.retry_after == 30
    assert attempt(solo, open_one, flag_of(open_one)).result == Result.RATE_LIMITED


def earlier_solvers(challenge, count: int) -> None:
    """`count` solo principals who solved `challenge` before, ledger and tally
    consistent (bulk: this is set-up, not what is measured)."""
    question = question_of(challenge)
    competition = Competition.objects.default()
    users = User.objects.bulk_create(
        User(username=f"early{challenge.pk}-{n}", email=f"e{n}@example.org")
        for n in range(count)
    )
    now = timezone.now()
    points = [value_of(question, n + 1) for n in range(count)]
    principals = Principal.objects.bulk_create(
        Principal(
            competition=competition,
            kind=PrincipalKind.SOLO,
            user=user,
            ledger_total=points[n],
            solve_count=1,
            last_solve_at=now,
        )
        for n, user in enumerate(users)
    )
    Solve.objects.bulk_create(
        Solve(principal=p, question=question, points=points[n], created_at=now)
        for n, p in enumerate(principals)
    )
    ScoreEvent.objects.bulk_create(
        ScoreEvent(
            principal=p,
            delta=points[n],
            reason=ScoreReason.SOLVE,
            question=question,
            created_at=now,
        )
        for n, p in enumerate(principals)
    )
    tallies_recount(competition_id=competition.pk, questions=[question])


def correct_flag_statements(challenge) -> list[str]:
    """The SQL of one warm correct submission over the API, by its first word
    and table."""
    user = player(f"late{challenge.pk}", team=False)
    client = api_client(token_create(user=user)[1])
    assert result(client, challenge, "CTF{warm-up}") == Result.WRONG
    flag = flag_of(challenge)
    with CaptureQueriesContext(connection) as queries:
        assert result(client, challenge, flag) == Result.CORRECT
    return [
        re.sub(r'"s\d+_x\d+"', "<savepoint>", " ".join(q["sql"].split()[:3]))
        for q in queries.captured_queries
    ]


def test_a_correct_flag_costs_the_same_statements_after_1_or_2000_solvers(
    needs_redis, db
):
    flags_reindex()
    # Linear decay by 1 from 10,000: every solve changes the value.
    few = make_dynamic("Few", initial=10_000, decay=1, minimum=1, function="linear")
    many = make_dynamic("Many", initial=10_000, decay=1, minimum=1, function="linear")
    earlier_solvers(few, 1)
    earlier_solvers(many, 2000)

    statements = correct_flag_statements(many)

    assert statements == correct_flag_statements(few)
    assert statements == CORRECT_DYNAMIC_STATEMENTS
    assert scores_verify() == []
    # The first of the 2,000 solved at 10,000 and now holds the value after 2,001
    # solves, with no row of its written since.
    first = Principal.objects.get(user__username=f"early{many.pk}-0")
    assert principal_score(first) == 8000


# A correct flag on a dynamic question whose value it changes: 9 statements in
# the transaction (a savepoint here, BEGIN/COMMIT in production), whatever the
# number of earlier solvers. On a static question the two value lines go.
CORRECT_DYNAMIC_STATEMENTS = [
    "SAVEPOINT <savepoint>",
    "SELECT pg_advisory_xact_lock((7311::bigint <<",  # principal lock + its ban
    "UPDATE scoring_questiontally SET",  # tally lock + public solve count
    'UPDATE "scoring_questiontally" SET',  # the new value
    'INSERT INTO "scoring_valuechange"',  # ... in the value history
    'INSERT INTO "scoring_solve"',
    'INSERT INTO "scoring_submission"',
    'INSERT INTO "scoring_scoreevent"',
    "UPDATE scoring_principal SET",
    'INSERT INTO "audit_eventlog"',
    "RELEASE SAVEPOINT <savepoint>",
]
