"""Benchmark: every challenge's requirement for one principal on the board.

The LispIsh issue's figure: "Evaluating every challenge's requirement for one
principal on the challenge board costs a constant number of queries (no
per-challenge queries) and stays under 10 ms for 500 challenges with
requirements."

Builds a throw-away database (SQLite, or PostgreSQL when DATABASE_URL is set,
see bench/_common.py), grows the catalog to each of --sizes challenges, every
one with a requirement, and measures at each size:

  warm total     fresh RequirementContext (its queries) + evaluating every challenge,
                 expressions already compiled (compile_requirement cache filled),
                 catalog facts already in this process's memory
  changed total  the same right after catalog_changed(): the catalog facts reload
  warm eval      the same with the context's facts already loaded: evaluation alone
  cold total     compile cache cleared first: parse + check + queries + evaluation
  cold eval      compile cache cleared, context facts loaded: parse + evaluation
  board cards    challenges.board.player_board(user).cards(): principal_resolve +
                 challenges.board.Board(...).cards(), the whole board read

Run:  .venv/bin/python bench/requirements_board.py [--sizes 50,500] [--runs 50]
      tests/services.sh .venv/bin/python bench/requirements_board.py   # PostgreSQL
"""

import argparse
import random
import sys
from statistics import median

from _common import add_db_options, load, summary, throwaway_database, timed

CATEGORIES = ["web", "crypto", "pwn", "rev", "forensics", "misc"]
VISIBILITY = ["hidden", "locked", "preview"]
TEMPLATES = [
    '(COMPLETED "Chal {a}")',
    '(AND (COMPLETED "Chal {a}" "Chal {b}") (>= (USER-SCORE) 300))',
    '(OR (COHORT "students") (AFTER "2026-01-01"))',
    '(>= (SOLVES "{cat}") 3)',
    "(AND (>= (TEAM-SIZE) 2) (<= (TEAM-SIZE) 4))",
    '(COMPLETED-ANY "Chal {a}" "Chal {b}" "Chal {c}")',
    '(AND (BEFORE "2030-01-01 12:00") (NOT (COMPLETED "Chal {a}")))',
    '(OR (COHORT "staff") (>= (MAX (SOLVES) (SOLVES "web")) {n}))',
    '(AND (COHORT "students") (OR (COMPLETED "Chal {a}") (> (USER-SCORE) {s})))',
    '(OR (= (TEAM-NAME) "Null Pointers") (COMPLETED "Chal {a}" "Chal {b}"))',
]


def requirement(i: int, rng: random.Random) -> str:
    a, b, c = (rng.randrange(max(i, 1)) for _ in range(3))
    return TEMPLATES[i % len(TEMPLATES)].format(
        a=a,
        b=b,
        c=c,
        cat=rng.choice(CATEGORIES),
        n=rng.randint(5, 40),
        s=rng.randint(1, 20) * 100,
    )


def build_players():
    """A team of three (one in cohort "students"), its principal, 30 rival teams."""
    from accounts.models import Cohort, Team, User
    from challenges.models import Competition
    from scoring.services import principal_resolve

    competition = Competition.objects.default()
    users = [
        User.objects.create_user(f"player{k}", f"p{k}@example.org", "x")
        for k in range(3)
    ]
    team = Team.objects.create(name="Null Pointers", captain=users[0])
    User.objects.filter(pk__in=[u.pk for u in users]).update(team=team)
    Cohort.objects.create(name="Students").members.add(users[0])
    Cohort.objects.create(name="Staff")
    rivals = []
    for k in range(30):
        captain = User.objects.create_user(f"rival{k}", "", "x")
        captain.team = Team.objects.create(name=f"Rivals {k}", captain=captain)
        captain.save()
        rivals.append(principal_resolve(user=captain, competition=competition))
    user = User.objects.get(pk=users[0].pk)
    return user, principal_resolve(user=user, competition=competition), rivals


def grow(start: int, stop: int, principal, rivals, rng: random.Random) -> None:
    """Add challenges start..stop-1 with questions; solve some of them."""
    from django.db.models import F

    from challenges.catalog import normalize_name
    from challenges.models import Challenge, Question
    from scoring.models import Solve

    challenges = Challenge.objects.bulk_create(
        Challenge(
            identity=f"{CATEGORIES[i % 6]}/chal-{i}",
            name=f"Chal {i}",
            normalized_name=normalize_name(f"Chal {i}"),
            category=CATEGORIES[i % 6],
            value=rng.randint(1, 5) * 100,
            description=f"Challenge number {i}.",
            position=i,
            requirement=requirement(i, rng),
            locked_visibility=VISIBILITY[i % 3],
        )
        for i in range(start, stop)
    )
    questions = Question.objects.bulk_create(
        Question(
            challenge=c,
            key=key,
            points=c.value,
            position=k,
            flags=[{"kind": "static", "content": f"CTF{{{c.pk}}}"}],
        )
        for c in challenges
        for k, key in enumerate(["main"] if c.position % 10 else ["user", "root"])
    )
    solves, points = [], 0
    for q in questions:
        if rng.random() < 0.3:  # our team: about 30 %, multi-part ones partly
            solves.append(Solve(principal=principal, question=q))
            points += q.points
        solves += [Solve(principal=r, question=q) for r in rivals if rng.random() < 0.2]
    Solve.objects.bulk_create(solves)
    type(principal).objects.filter(pk=principal.pk).update(
        ledger_total=F("ledger_total") + points
    )
    principal.refresh_from_db()


def evaluate_all(context, challenges) -> list:
    from challenges.access import challenge_access

    functions = context.functions()
    return [challenge_access(c, context, functions) for c in challenges]


def count_queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def measure(size: int, user_pk: int, principal, runs: int) -> list[tuple]:
    from accounts.models import User
    from challenges.access import RequirementContext, catalog_changed
    from challenges.board import player_board
    from challenges.models import Challenge
    from requirements.compiled import compile_requirement, explain_requirement
    from scoring.models import Principal

    challenges = list(Challenge.objects.all())

    def fresh_player():  # what a request has: its user, and the principal it resolved
        return User.objects.get(pk=user_pk), Principal.objects.get(pk=principal.pk)

    def fresh_context(_=None):
        return RequirementContext(*fresh_player())

    def primed_context(_=None):
        context = fresh_context()
        evaluate_all(context, challenges)
        return context

    def cleared(make):
        def setup():
            context = make()
            compile_requirement.cache_clear()
            explain_requirement.cache_clear()
            return context

        return setup

    def changed():
        catalog_changed()
        return fresh_player()

    def full(player):
        evaluate_all(RequirementContext(*player), challenges)

    def board(player):
        player_board(player[0]).cards()  # what the board view does

    def evaluate(context):
        evaluate_all(context, challenges)

    evaluate_all(fresh_context(), challenges)  # warm the compile cache
    cases = [
        ("warm total", full, fresh_player),
        ("changed total", full, changed),
        ("warm eval", evaluate, primed_context),
        ("cold total", full, cleared(fresh_player)),
        ("cold eval", evaluate, cleared(primed_context)),
        ("board cards", board, fresh_player),
    ]
    rows = []
    for name, fn, setup in cases:
        times = timed(fn, runs, setup)
        arg = setup()
        rows.append((name, times, count_queries(lambda: fn(arg))))  # noqa: B023
    accesses = evaluate_all(fresh_context(), challenges)
    states = {s: sum(a.state == s for a in accesses) for s in ["open", *VISIBILITY]}
    print(
        f"  {size} challenges, access: "
        + ", ".join(f"{v} {k}" for k, v in states.items())
    )
    return [(size, *row) for row in rows]


def broken_requirements(k: int, user_pk: int, principal) -> list[str]:
    """Requirements that fail to evaluate: what do they cost per board view?"""
    from accounts.models import User
    from challenges.access import RequirementContext
    from challenges.models import Challenge

    if k <= 0:
        return []
    pks = list(Challenge.objects.values_list("pk", flat=True)[:k])
    Challenge.objects.filter(pk__in=pks).update(requirement='(COMPLETED "Gone")')
    challenges = list(Challenge.objects.all())
    lines = []
    for view in ("first", "second"):
        player = (
            User.objects.get(pk=user_pk),
            type(principal).objects.get(pk=principal.pk),
        )
        n = count_queries(
            lambda p=player: evaluate_all(RequirementContext(*p), challenges)
        )
        lines.append(f"with {k} failing requirements, {view} evaluation: {n} queries")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="50,500",
        help="challenge counts to measure at (default 50,500)",
    )
    parser.add_argument(
        "--runs", type=int, default=50, help="timed runs per measurement (default 50)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--broken",
        type=int,
        default=10,
        help="at the end, make this many requirements name a missing "
        "challenge and count the queries again (default 10)",
    )
    add_db_options(parser)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    with throwaway_database(args.pg_db) as label:
        from audit.models import EventLog
        from challenges.models import Challenge

        print(f"Database: {label}; runs per row: {args.runs}; {load()}")
        rng = random.Random(args.seed)
        user, principal, rivals = build_players()
        results, built = [], 0
        for size in sizes:
            grow(built, size, principal, rivals, rng)
            built = size
            results += measure(size, user.pk, principal, args.runs)
        errors = Challenge.objects.exclude(requirement_error="").count()
        events = EventLog.objects.count()
        broken = broken_requirements(args.broken, user.pk, principal)

    print(
        f"\n{'challenges':>10} {'measure':<13} {'median ms':>9} {'p95 ms':>8} "
        f"{'cpu ms':>8} {'queries':>7}"
    )
    for size, name, (wall, cpu), queries in results:
        print(f"{size:>10} {name:<13} {summary(wall)} {median(cpu):8.2f} {queries:>7}")
    print(f"\nrequirement errors: {errors}; audit events: {events}")
    for line in broken:
        print(line)
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
