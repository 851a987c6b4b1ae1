"""scoring.stats: the numbers of the statistics screen, the API and the event
dashboard: attempts, solves as the board counts them, first bloods, series
over time, at a fixed number of queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from challenges.models import Competition
from scoring.models import CheatKind, CheatRecord, Solve, Submission
from scoring.selectors import challenge_solve_counts
from scoring.services import principal_set_banned, principal_set_hidden, solve_delete
from scoring.stats import (
    BadSeries,
    _first_bloods,
    _names,
    category_totals,
    challenge_stats,
    challenge_timeseries,
    competition_activity,
    first_bloods,
    latest_first_bloods,
    open_cheats,
    series_bounds,
    stats_ordered,
)

from .factories import (
    attempt,
    flag_of,
    make_challenge,
    player,
    principal_of,
    question_of,
)


@pytest.fixture
def competition(db):
    return Competition.objects.default()


def by_name(rows):
    return {row.name: row for row in rows}


def at(minutes_ago: float):
    return timezone.now() - timedelta(minutes=minutes_ago)


def test_it_counts_attempts_wrong_flags_and_solves(competition):
    web = make_challenge("Login", category="web")
    pwn = make_challenge("Overflow", category="pwn")
    alice, bob = player("alice"), player("bob")
    attempt(alice, web, "CTF{no}")
    attempt(alice, web, flag_of(web))
    attempt(bob, web, flag_of(web))
    attempt(bob, pwn, "CTF{no}")

    rows = by_name(challenge_stats(competition))

    login, overflow = rows["Login"], rows["Overflow"]
    assert (login.attempts, login.wrong, login.solves) == (3, 1, 2)
    assert (overflow.attempts, overflow.wrong, overflow.solves) == (1, 1, 0)
    assert login.first_blood.principal == "Team alice"
    assert overflow.first_blood is None
    assert login.in_play and overflow.in_play


def test_a_challenge_counts_as_solved_once_every_question_is(competition):
    vault = make_challenge("Vault", questions=("door", "safe"))
    alice = player("alice")
    attempt(
        alice, vault, flag_of(vault, "door"), question=vault.questions.get(key="door")
    )

    halfway = by_name(challenge_stats(competition))["Vault"]
    attempt(
        alice, vault, flag_of(vault, "safe"), question=vault.questions.get(key="safe")
    )
    done = by_name(challenge_stats(competition))["Vault"]

    assert (halfway.solves, halfway.first_blood) == (0, None)
    last = Solve.objects.filter(question__challenge=vault).latest("created_at")
    assert done.solves == 1 and done.first_blood.at == last.created_at


def test_solves_are_the_boards_and_leave_out_hidden_and_banned(competition):
    web = make_challenge("Login")
    people = [player(name) for name in ("alice", "bob", "carol", "dave")]
    for user in people:
        attempt(user, web, flag_of(web))
    principal_set_hidden(principal=principal_of(people[0]), hidden=True)
    principal_set_banned(principal=principal_of(people[1]), banned=True)

    row = by_name(challenge_stats(competition))["Login"]

    assert row.solves == 2 == challenge_solve_counts(competition)[web.pk]
    assert row.first_blood.principal == "Team carol"  # the first two left the board
    assert row.attempts == 4  # attempts count everyone


def test_the_first_blood_is_the_earliest_solve(competition):
    web = make_challenge("Login")
    alice, bob = player("alice"), player("bob")
    attempt(alice, web, flag_of(web))
    attempt(bob, web, flag_of(web))
    Solve.objects.filter(principal=principal_of(bob)).update(created_at=at(60))

    row = by_name(challenge_stats(competition))["Login"]

    assert row.first_blood.principal == "Team bob"
    assert row.first_blood.principal_id == principal_of(bob).pk


def test_it_counts_one_competition_and_shows_challenges_outside_its_set(db):
    finals = Competition.objects.create(name="Finals", slug="finals", include_all=False)
    web = make_challenge("Login", category="web")
    crypto = make_challenge("RSA", category="crypto")
    finals.challenges.add(crypto)
    alice = player("alice")
    attempt(alice, web, flag_of(web))  # in the default competition
    attempt(alice, web, "CTF{no}", competition=finals)

    main = by_name(challenge_stats(Competition.objects.default()))
    final = by_name(challenge_stats(finals))

    assert (main["Login"].attempts, main["Login"].solves) == (1, 1)
    assert set(final) == {"RSA", "Login"}  # Login: not in play, but tried
    assert final["RSA"].in_play and not final["Login"].in_play
    assert (final["Login"].attempts, final["Login"].solves) == (1, 0)


def test_it_costs_the_same_queries_however_many_challenges(competition):
    alice, bob = player("alice"), player("bob")
    made: list = []

    def queries_with(count: int) -> tuple[int, int]:
        while len(made) < count:
            made.append(make_challenge(category=f"cat{len(made) % 4}"))
            for user in (alice, bob):
                attempt(user, made[-1], "CTF{no}")
                attempt(user, made[-1], flag_of(made[-1]))
        cache.clear()  # the first bloods counted from every solve
        with CaptureQueriesContext(connection) as cold:
            rows = challenge_stats(competition)
        with CaptureQueriesContext(connection) as warm:
            challenge_stats(competition)
        assert len(rows) == count
        return len(cold), len(warm)

    few, many = queries_with(3), queries_with(30)

    # Attempts, questions per challenge, solve counts, the principals off the
    # board, first bloods (all of them, or the standing ones and the new),
    # their names, the competition's set and the challenges.
    assert few == many
    assert few[0] <= 9 and few[1] <= 10


def test_rows_sort_by_any_column_with_unsolved_last(competition):
    web, pwn, rev = (make_challenge(name) for name in ("A web", "B pwn", "C rev"))
    alice, bob = player("alice"), player("bob")
    for user in (alice, bob):
        attempt(user, pwn, flag_of(pwn))
    attempt(alice, web, flag_of(web))
    rows = challenge_stats(Competition.objects.default())

    by_solves = [r.name for r in stats_ordered(rows, "-solves")]
    earliest = [r.name for r in stats_ordered(rows, "first_blood")]
    latest = [r.name for r in stats_ordered(rows, "-first_blood")]

    assert by_solves == ["B pwn", "A web", "C rev"]
    assert earliest == ["B pwn", "A web", "C rev"]
    assert latest == ["A web", "B pwn", "C rev"]


def test_categories_sum_their_challenges(competition):
    one, two = (
        make_challenge("One", category="web"),
        make_challenge("Two", category="web"),
    )
    make_challenge("Three", category="pwn")
    alice = player("alice")
    attempt(alice, one, "CTF{no}")
    attempt(alice, one, flag_of(one))
    attempt(alice, two, flag_of(two))

    totals = {t.category: t for t in category_totals(challenge_stats(competition))}

    assert (totals["web"].challenges, totals["web"].attempts) == (2, 3)
    assert (totals["web"].wrong, totals["web"].solves) == (1, 2)
    assert (totals["pwn"].challenges, totals["pwn"].solves) == (1, 0)


def test_a_series_ends_on_the_next_bucket_edge():
    now = datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC)

    start, count = series_bounds(86400, 3600, now=now)

    assert count == 24
    assert start == datetime(2026, 2, 28, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "bucket", "field", "says"),
    [
        (0, 60, "window", "1 to 2678400"),
        (40 * 86400, 3600, "window", "31 days"),
        (3600, 5, "bucket", "10 seconds"),
        (3600, 7200, "bucket", "up to the window"),
        (86400, 60, "bucket", "1440 buckets; at most 1000: use buckets of 87 s"),
    ],
)
def test_a_series_refuses_absurd_bounds_naming_the_field(window, bucket, field, says):
    with pytest.raises(BadSeries) as refused:
        series_bounds(window, bucket)

    assert refused.value.field == field
    assert says in str(refused.value)


def test_a_series_puts_each_attempt_and_solve_in_its_bucket(competition):
    web = make_challenge("Login")
    alice, bob = player("alice"), player("bob")
    attempt(alice, web, "CTF{no}")
    attempt(alice, web, flag_of(web))
    attempt(bob, web, "CTF{no}")
    Submission.objects.filter(principal=principal_of(alice)).update(created_at=at(125))
    Solve.objects.filter(principal=principal_of(alice)).update(created_at=at(125))

    series = challenge_timeseries(competition, web, window=4 * 3600, bucket=3600)

    counts = [(b.attempts, b.wrong, b.solves) for b in series.buckets]
    assert len(counts) == 4
    assert sum(b.attempts for b in series.buckets) == 3
    alice_bucket = next(
        b for b in series.buckets if b.start <= at(125) < b.start + timedelta(hours=1)
    )
    assert (alice_bucket.attempts, alice_bucket.wrong, alice_bucket.solves) == (2, 1, 1)
    assert (series.buckets[-1].attempts, series.buckets[-1].wrong) == (1, 1)
    assert series.end > timezone.now() >= series.end - timedelta(hours=1)


def test_activity_counts_submissions_and_correct_flags_per_minute(competition):
    web, pwn = make_challenge("Login"), make_challenge("Overflow")
    alice = player("alice")
    attempt(alice, web, "CTF{no}")
    attempt(alice, pwn, flag_of(pwn))
    old = Submission.objects.create(
        principal=principal_of(alice),
        question=web.questions.get(),
        flag_hash="0" * 64,
        result="wrong",
        created_at=at(90),
    )

    last_hour = competition_activity(competition, window=3600, bucket=60)

    assert len(last_hour.buckets) == 60
    assert sum(b.attempts for b in last_hour.buckets) == 2  # not the old one
    assert sum(b.solves for b in last_hour.buckets) == 1
    assert last_hour.buckets[-1].attempts == 2 and old.pk


def test_the_latest_first_bloods_come_newest_first(competition):
    web, pwn = make_challenge("Login"), make_challenge("Overflow")
    alice, bob = player("alice"), player("bob")
    attempt(alice, web, flag_of(web))
    attempt(bob, pwn, flag_of(pwn))
    attempt(alice, pwn, flag_of(pwn))

    firsts = latest_first_bloods(competition)

    assert [(f["challenge"], f["principal"]) for f in firsts] == [
        ("Overflow", "Team bob"),
        ("Login", "Team alice"),
    ]


def test_a_cheat_stays_open_until_its_submitter_is_banned(competition):
    web = make_challenge("Login")
    alice, bob = player("alice"), player("bob")
    attempt(alice, web, "CTF{leaked}")
    CheatRecord.objects.create(
        kind=CheatKind.SHARE,
        submitter=principal_of(alice),
        owner=principal_of(bob),
        submission=Submission.objects.get(),
    )

    before = list(open_cheats(competition))
    principal_set_banned(principal=principal_of(alice), banned=True)

    assert [c.submitter.team.name for c in before] == ["Team alice"]
    assert list(open_cheats(competition)) == []


def full_first_bloods(competition):
    return _first_bloods(competition)


def test_kept_first_bloods_follow_solves_bans_and_removed_solves(
    competition, organizer
):
    web, pwn = make_challenge("Login"), make_challenge("Overflow")
    vault = make_challenge("Vault", questions=("door", "safe"))
    alice, bob, carol = player("alice"), player("bob"), player("carol")
    steps = [
        lambda: attempt(alice, web, flag_of(web)),
        lambda: attempt(bob, web, flag_of(web)),
        lambda: attempt(bob, pwn, flag_of(pwn)),
        lambda: attempt(
            carol, vault, flag_of(vault, "door"), question=question_of(vault, "door")
        ),
        lambda: principal_set_banned(principal=principal_of(alice), banned=True),
        lambda: attempt(
            carol, vault, flag_of(vault, "safe"), question=question_of(vault, "safe")
        ),
        lambda: principal_set_banned(principal=principal_of(alice), banned=False),
        lambda: solve_delete(
            solve=Solve.objects.get(
                principal=principal_of(bob), question__challenge=pwn
            ),
            actor=organizer,
            reason="shared",
        ),
        lambda: attempt(alice, pwn, flag_of(pwn)),
    ]
    seen = []

    for step in steps:
        step()
        seen.append(first_bloods(competition))
        assert seen[-1] == full_first_bloods(competition)

    names = {c: _names([p])[p] for c, (p, _) in seen[-1].items()}
    assert names == {web.pk: "Team alice", pwn.pk: "Team alice", vault.pk: "Team carol"}
    assert seen[4][web.pk][0] == principal_of(bob).pk  # alice banned: bob's


def test_settled_activity_is_read_from_the_cache(competition):
    web = make_challenge("Login")
    alice = player("alice")
    attempt(alice, web, "CTF{no}")
    Submission.objects.update(created_at=at(30))
    before = competition_activity(competition, window=3600, bucket=60)
    # A row that appears in a bucket that ended minutes ago is not counted
    # (submissions commit moments after their time); the current one is.
    Submission.objects.create(
        principal=principal_of(alice),
        question=web.questions.get(),
        flag_hash="1" * 64,
        result="wrong",
        created_at=at(30),
    )
    attempt(alice, web, flag_of(web))

    after = competition_activity(competition, window=3600, bucket=60)

    assert sum(b.attempts for b in before.buckets) == 1
    assert sum(b.attempts for b in after.buckets) == 2
    assert (after.buckets[-1].attempts, after.buckets[-1].solves) == (1, 1)
