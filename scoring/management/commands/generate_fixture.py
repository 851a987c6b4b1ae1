"""`manage.py generate_fixture`: a large, consistent competition for benchmarks.

Principals (half teams of 1-4 players, half solo), challenges with one question
each (a fifth dynamic, a fifth with derived per-team flags), and solves spread
over two days, written straight into the ledger so `verify_scores` finds no drift.
"""

import random
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from accounts.models import Team, User
from challenges.models import Challenge, Competition, Question
from scoring.flags import flags_prederive
from scoring.models import (
    Principal,
    PrincipalKind,
    QuestionTally,
    ScoreEvent,
    ScoreReason,
    Solve,
)
from scoring.values import dynamic_value

CATEGORIES = ["web", "crypto", "pwn", "rev", "forensics", "misc"]
PASSWORD = "fixture-password"  # noqa: S105  (benchmark accounts, documented)


class Command(BaseCommand):
    help = "Generate principals, challenges and solves for benchmarks (seeded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--principals", type=int, default=1000)
        parser.add_argument("--challenges", type=int, default=50)
        parser.add_argument("--solves", type=int, default=20000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--prefix",
            default="fx",
            help="Name prefix, so several fixtures can coexist.",
        )

    def handle(
        self,
        *args,
        principals: int,
        challenges: int,
        solves: int,
        seed: int,
        prefix: str,
        **options,
    ) -> None:
        if solves > principals * challenges:
            raise CommandError("--solves cannot exceed principals × challenges.")
        if User.objects.filter(username__startswith=f"{prefix}-").exists():
            raise CommandError(
                f"A fixture with prefix {prefix!r} exists; use another --prefix."
            )
        rng = random.Random(seed)
        with transaction.atomic():
            competition = Competition.objects.default()
            questions = self._challenges(prefix, challenges, rng)
            people = self._principals(prefix, principals, competition, rng)
            self._solves(people, questions, solves, rng)
        created = flags_prederive(principals=people, questions=questions)
        self.stdout.write(
            self.style.SUCCESS(
                f"Fixture {prefix!r}: {len(people)} principals, {len(questions)} "
                f"challenges, {solves} solves, {created} derived flags (seed {seed}). "
                f"Players' password: {PASSWORD}"
            )
        )

    def _challenges(self, prefix, count, rng) -> list[Question]:
        made = Challenge.objects.bulk_create(
            Challenge(
                identity=f"{prefix}/{n:05d}",
                name=f"{prefix} challenge {n}",
                normalized_name=f"{prefix} challenge {n}",
                category=CATEGORIES[n % len(CATEGORIES)],
                type="dynamic" if n % 5 == 0 else "standard",
                value=rng.choice([100, 200, 300, 500]),
                decay_initial=500 if n % 5 == 0 else None,
                decay_decay=50 if n % 5 == 0 else None,
                decay_minimum=100 if n % 5 == 0 else None,
                decay_function="logarithmic" if n % 5 == 0 else "",
            )
            for n in range(count)
        )
        return Question.objects.bulk_create(
            Question(
                challenge=c,
                key="main",
                points=c.decay_initial or c.value,
                flags=[
                    {
                        "kind": "derived",
                        "content": "",
                        "template": f"CTF{{{prefix}_{n}_{{hash}}}}",
                    }
                    if n % 5 == 1
                    else {
                        "kind": "static",
                        "content": f"CTF{{{prefix}_{n}}}",
                        "template": "",
                    }
                ],
            )
            for n, c in enumerate(made)
        )

    def _principals(self, prefix, count, competition, rng) -> list[Principal]:
        password = make_password(PASSWORD)  # hashed once, shared: hashing is slow
        users, teams = [], []
        for n in range(count):
            size = rng.randint(1, 4) if n % 2 == 0 else 1
            members = [
                User(username=f"{prefix}-{n}-{m}", password=password)
                for m in range(size)
            ]
            users.append(members)
        User.objects.bulk_create([u for members in users for u in members])
        for n, members in enumerate(users):
            if n % 2 == 0:
                teams.append(Team(name=f"{prefix} team {n}", captain=members[0]))
        Team.objects.bulk_create(teams)
        team_iter = iter(teams)
        rows = []
        for n, members in enumerate(users):
            if n % 2 == 0:
                team = next(team_iter)
                User.objects.filter(pk__in=[u.pk for u in members]).update(
                    team=team, team_joined_at=timezone.now()
                )
                rows.append(
                    Principal(
                        competition=competition, kind=PrincipalKind.TEAM, team=team
                    )
                )
            else:
                rows.append(
                    Principal(
                        competition=competition,
                        kind=PrincipalKind.SOLO,
                        user=members[0],
                    )
                )
        return Principal.objects.bulk_create(rows, batch_size=2000)

    def _solves(self, people, questions, count, rng) -> None:
        start = timezone.now() - timedelta(days=2)
        pairs: set[tuple[int, int]] = set()
        # Popular challenges get more solves, as in a real event.
        weights = [1 / (i + 1) for i in range(len(questions))]
        while len(pairs) < count:
            principal = rng.randrange(len(people))
            question = rng.choices(range(len(questions)), weights)[0]
            pairs.add((principal, question))
        ordered = sorted(pairs, key=lambda _: rng.random())
        solves, solvers = [], {}
        for i, (p, q) in enumerate(ordered):
            at = start + timedelta(seconds=i * 172800 // max(count, 1))
            solves.append(
                Solve(principal=people[p], question=questions[q], created_at=at)
            )
            solvers[questions[q].pk] = solvers.get(questions[q].pk, 0) + 1
        values = {}
        for question in {s.question.pk: s.question for s in solves}.values():
            challenge = question.challenge
            values[question.pk] = (
                None
                if challenge.type != "dynamic"
                else dynamic_value(
                    initial=challenge.decay_initial,
                    decay=challenge.decay_decay,
                    minimum=challenge.decay_minimum,
                    function=challenge.decay_function,
                    solves=solvers[question.pk],
                )
            )
        # Every solver holds the value as it stands after the last solve.
        for solve in solves:
            value = values[solve.question.pk]
            solve.points = solve.question.points if value is None else value
        Solve.objects.bulk_create(solves, batch_size=5000)
        QuestionTally.objects.bulk_create(
            QuestionTally(
                competition_id=people[0].competition_id,
                question_id=question_id,
                public_solves=solvers[question_id],
                value=value,
            )
            for question_id, value in values.items()
        )
        events = [
            ScoreEvent(
                principal=solve.principal,
                delta=solve.points,
                reason=ScoreReason.SOLVE,
                question=solve.question,
                created_at=solve.created_at,
            )
            for solve in solves
        ]
        ScoreEvent.objects.bulk_create(events, batch_size=5000)
        totals = (
            ScoreEvent.objects.filter(principal__in=people)
            .values("principal")
            .annotate(total=Sum("delta"), last=Max("created_at"), n=Count("pk"))
        )
        by_pk = {p.pk: p for p in people}
        for row in totals:
            principal = by_pk[row["principal"]]
            principal.ledger_total, principal.last_solve_at = row["total"], row["last"]
            principal.solve_count = row["n"]  # one SOLVE event per solve here
        Principal.objects.bulk_update(
            people, ["ledger_total", "last_solve_at", "solve_count"], batch_size=2000
        )
