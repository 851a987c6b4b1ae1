"""Per-question tallies: how many public principals solved a question in a
competition, what a dynamic question is worth now, and its value history.

A dynamic question's solvers all hold its current value, but no row of theirs
is written when it changes: their points are their solve's `points` plus the
drift to the tally's value (`Principal.objects.with_score`), and the change is
one ValueChange row. So a solve writes a bounded number of rows however many
principals solved the question before.

Lock order, which every writer follows, so two transactions never wait for each
other in a circle: (1) the principal's advisory lock (`principal_lock`; several
in id order), (2) tallies in question-id order, (3) principal rows in id order.
A solve takes one of each; a ban takes its principal's advisory lock, the
tallies of what it solved, then its row.
"""

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from challenges.models import Competition, Question
from scoring.models import Principal, QuestionTally, Solve, ValueChange
from scoring.values import dynamic_value

# First key of the PostgreSQL advisory locks that queue a principal's writes.
ADVISORY_NAMESPACE = 7311


def principal_lock(principal_id: int) -> tuple[bool, bool]:
    """Queue behind the principal's other scoring writes until commit; returns
    its (is_banned, is_hidden) as they stand under the lock.

    PostgreSQL: an advisory lock, taken and read in one statement. SQLite runs
    one writer at a time anyway.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                # One bigint key: the namespace above the principal's id.
                "SELECT pg_advisory_xact_lock((%s::bigint << 48) | id),"
                " is_banned, is_hidden FROM scoring_principal WHERE id = %s",
                [ADVISORY_NAMESPACE, principal_id],
            )
            _, banned, hidden = cursor.fetchone()
        else:
            cursor.execute(
                "SELECT is_banned, is_hidden FROM scoring_principal WHERE id = %s",
                [principal_id],
            )
            banned, hidden = cursor.fetchone()
    return bool(banned), bool(hidden)


def value_of(question: Question, public_solves: int) -> int | None:
    """A dynamic question's value after `public_solves` solves; None if static."""
    challenge = question.challenge
    if challenge.type != "dynamic" or challenge.decay_initial is None:
        return None
    return dynamic_value(
        initial=challenge.decay_initial,
        decay=challenge.decay_decay or 0,
        minimum=challenge.decay_minimum or 0,
        function=challenge.decay_function or "logarithmic",
        solves=public_solves,
    )


def _public_solves(competition_id: int, question_id: int) -> int:
    return Solve.objects.filter(
        principal__competition_id=competition_id,
        principal__is_hidden=False,
        principal__is_banned=False,
        question_id=question_id,
    ).count()


def _ensure(competition_id: int, question: Question) -> None:
    """Create the tally if it is missing (a question's first solve, or a ban
    before any). Its value needs no history row: every solve credits the value
    it saw, and the history records what changed after."""
    solves = _public_solves(competition_id, question.pk)
    QuestionTally.objects.bulk_create(
        [
            QuestionTally(
                competition_id=competition_id,
                question_id=question.pk,
                public_solves=solves,
                value=value_of(question, solves),
            )
        ],
        ignore_conflicts=True,  # a concurrent first solve created it
    )


def _lock(competition_id: int, question_id: int, add: int) -> tuple[int, int] | None:
    """Lock the tally, add `add` public solves; (public solves, value) or None."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scoring_questiontally SET public_solves = public_solves + %s"
            " WHERE competition_id = %s AND question_id = %s"
            " RETURNING public_solves, value",
            [add, competition_id, question_id],
        )
        return cursor.fetchone()


def _record(competition_id: int, question_id: int, value, solves: int, now) -> None:
    QuestionTally.objects.filter(
        competition_id=competition_id, question_id=question_id
    ).update(value=value, updated_at=now)
    if value is not None:
        ValueChange.objects.create(
            competition_id=competition_id,
            question_id=question_id,
            value=value,
            public_solves=solves,
            created_at=now,
        )


@dataclass(frozen=True)
class Taken:
    """A solve's place in its question's tally."""

    rank: int  # among public solvers, 1-based; 0 for a hidden solver
    value: int  # what the question is worth with this solve counted
    at: object  # the solve's time, taken under the lock (commit order)


def tally_take(*, competition_id: int, question: Question, public: bool) -> Taken:
    """Lock the question's tally for a solve and count it if `public`; the value
    moves (one ValueChange) when the count changes a dynamic value."""
    add = 1 if public else 0
    row = _lock(competition_id, question.pk, add)
    if row is None:
        _ensure(competition_id, question)
        row = _lock(competition_id, question.pk, add)
    solves, held = row
    now = timezone.now()
    value = value_of(question, solves)
    if value != held:
        _record(competition_id, question.pk, value, solves, now)
    return Taken(
        rank=solves if public else 0,
        value=question.points if value is None else value,
        at=now,
    )


def tallies_lock(*, competition_id: int, questions) -> None:
    """Lock the tallies of `questions` (created if missing), in question-id order."""
    ids = sorted({q.pk for q in questions})
    have = set(
        QuestionTally.objects.filter(
            competition_id=competition_id, question_id__in=ids
        ).values_list("question_id", flat=True)
    )
    for question in questions:
        if question.pk not in have:
            _ensure(competition_id, question)
    list(
        QuestionTally.objects.select_for_update()
        .filter(competition_id=competition_id, question_id__in=ids)
        .order_by("question_id")
        .values_list("pk", flat=True)
    )


def tallies_recount(*, competition_id: int, questions) -> None:
    """Count the public solvers of `questions` again (after a ban, a hidden
    principal, a removed solve or new decay settings); values follow."""
    questions = sorted(questions, key=lambda q: q.pk)
    tallies_lock(competition_id=competition_id, questions=questions)
    held = dict(
        QuestionTally.objects.filter(
            competition_id=competition_id, question__in=questions
        ).values_list("question_id", "value")
    )
    now = timezone.now()
    for question in questions:
        # Counted under the lock: solves of this question queue behind it.
        solves = _public_solves(competition_id, question.pk)
        QuestionTally.objects.filter(
            competition_id=competition_id, question_id=question.pk
        ).update(public_solves=solves, updated_at=now)
        value = value_of(question, solves)
        if value != held[question.pk]:
            _record(competition_id, question.pk, value, solves, now)


def principal_questions(principal: Principal):
    """The questions `principal` solved, with their challenges (a ban moves their
    tallies)."""
    return Question.objects.filter(solves__principal=principal).select_related(
        "challenge"
    )


def question_value(question: Question, competition: Competition | None = None) -> int:
    """What `question` is worth now in `competition` (the default one if None)."""
    competition_id = (competition or Competition.objects.default()).pk
    value = (
        QuestionTally.objects.filter(
            competition_id=competition_id, question_id=question.pk
        )
        .values_list("value", flat=True)
        .first()
    )
    if value is None:
        value = value_of(question, _public_solves(competition_id, question.pk))
    return question.points if value is None else value


def dynamic_values(competition_id: int, at=None) -> dict[int, int]:
    """question id -> value of the competition's dynamic questions, now or as
    they stood at `at` (the latest change up to then)."""
    if at is None:
        return dict(
            QuestionTally.objects.filter(
                competition_id=competition_id, value__isnull=False
            ).values_list("question_id", "value")
        )
    values: dict[int, int] = {}
    # Oldest first, so the last one up to `at` wins.
    for question_id, value in (
        ValueChange.objects.filter(competition_id=competition_id, created_at__lte=at)
        .order_by("created_at", "pk")
        .values_list("question_id", "value")
    ):
        values[question_id] = value
    return values
