"""The score ledger: append-only ScoreEvents, totals kept with SQL expressions,
and the scores they add up to with dynamic values (`scoring.tallies`)."""

import math

from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Max, Sum, Value, When
from django.utils import timezone

from scoring.models import Principal, QuestionTally, ScoreEvent, ScoreReason, Solve
from scoring.rows import insert_many
from scoring.tallies import tallies_recount, value_of


def ledger_write(
    *,
    principal_id: int,
    delta: int,
    reason: str,
    question=None,
    note: str = "",
    actor=None,
    solved_at=None,
    bonus: int = 0,
) -> None:
    """Append the event (and a first-blood `bonus` event beside it) and move the
    principal's ledger total by the same amount (SQL built once: `scoring.rows`).

    An event with `solved_at` records a solve: it also counts the solve and moves
    the last solve time, in the same UPDATE.
    """
    if delta == 0 and reason != ScoreReason.SOLVE:
        return
    at = solved_at or timezone.now()
    event = {
        "principal_id": principal_id,
        "question_id": getattr(question, "pk", question),
        "note": note,
        "actor_id": getattr(actor, "pk", actor),
        "created_at": at,
    }
    insert_many(
        ScoreEvent,
        [{**event, "delta": delta, "reason": reason}]
        + (
            [{**event, "delta": bonus, "reason": ScoreReason.FIRST_BLOOD, "note": ""}]
            if bonus
            else []
        ),
    )
    with connection.cursor() as cursor:
        if solved_at is None:
            cursor.execute(_MOVE, [delta + bonus, principal_id])
        else:
            at = connection.ops.adapt_datetimefield_value(solved_at)
            cursor.execute(_SOLVED, [delta + bonus, at, at, principal_id])


# The ledger total moves by the events' sum; a solve also counts and, unless a
# later one committed first, becomes the last solve.
_MOVE = "UPDATE scoring_principal SET ledger_total = ledger_total + %s WHERE id = %s"
_SOLVED = (
    "UPDATE scoring_principal SET ledger_total = ledger_total + %s,"
    " solve_count = solve_count + 1,"
    " last_solve_at = CASE WHEN last_solve_at IS NULL OR last_solve_at < %s"
    " THEN %s ELSE last_solve_at END WHERE id = %s"
)


def first_blood_bonus(*, competition, rank: int, value: int) -> int:
    """The bonus of the `rank`-th public solver (1-based), from the competition."""
    bonuses = competition.first_blood_bonuses or []
    if rank < 1 or rank > len(bonuses):
        return 0
    return math.ceil(value * float(bonuses[rank - 1]) / 100)


def drifts(solves, values: dict[int, int]) -> dict[int, int]:
    """principal id -> what its dynamic solves among `solves` gained or lost
    since they were credited, with the questions worth `values`."""
    if not values:
        return {}
    worth = Case(
        *(When(question_id=q, then=Value(v)) for q, v in values.items()),
        output_field=IntegerField(),
    )
    return dict(
        solves.filter(question_id__in=list(values))
        .values("principal")
        .annotate(drift=Sum(worth - F("points")))
        .values_list("principal", "drift")
    )


@transaction.atomic
def scores_verify(*, fix: bool = False) -> list[dict]:
    """Compare every ledger total, last solve and solve count with the ledger and
    the solves, and every tally with the solves; with `fix`, repair the drift.

    Each row found has a `kind` ("principal" or "tally") and a `message`.
    """
    ledger = dict(
        ScoreEvent.objects.values("principal_id")
        .annotate(total=Sum("delta"))
        .values_list("principal_id", "total")
    )
    solves = {
        principal_id: (last, n)
        for principal_id, last, n in Solve.objects.values("principal_id")
        .annotate(last=Max("created_at"), n=Count("pk"))
        .values_list("principal_id", "last", "n")
    }
    drift = []
    for principal in Principal.objects.select_for_update().order_by("pk"):
        want_total = ledger.get(principal.pk, 0)
        want_last, want_count = solves.get(principal.pk, (None, 0))
        have = (principal.ledger_total, principal.last_solve_at, principal.solve_count)
        if have != (want_total, want_last, want_count):
            drift.append(
                {
                    "kind": "principal",
                    "principal": principal.pk,
                    "message": f"{principal} (#{principal.pk}): total "
                    f"{principal.ledger_total}, ledger {want_total}; last solve "
                    f"{principal.last_solve_at}, ledger {want_last}; solve count "
                    f"{principal.solve_count}, solves {want_count}",
                }
            )
            if fix:
                Principal.objects.filter(pk=principal.pk).update(
                    ledger_total=want_total,
                    last_solve_at=want_last,
                    solve_count=want_count,
                )
    return drift + _tallies_verify(fix=fix)


def _tallies_verify(*, fix: bool) -> list[dict]:
    public = {
        (competition_id, question_id): n
        for competition_id, question_id, n in Solve.objects.filter(
            principal__is_hidden=False, principal__is_banned=False
        )
        .values("principal__competition", "question")
        .annotate(n=Count("pk"))
        .values_list("principal__competition", "question", "n")
    }
    drift = []
    tallies = QuestionTally.objects.select_related("question__challenge").order_by(
        "question_id", "competition_id"
    )
    for tally in tallies:
        solves = public.get((tally.competition_id, tally.question_id), 0)
        value = value_of(tally.question, solves)
        if (tally.public_solves, tally.value) != (solves, value):
            drift.append(
                {
                    "kind": "tally",
                    "question": tally.question_id,
                    "message": f"{tally.question} (question #{tally.question_id}): "
                    f"{tally.public_solves} public solve(s) counted, {solves} "
                    f"found; value {tally.value}, expected {value}",
                }
            )
            if fix:
                tallies_recount(
                    competition_id=tally.competition_id, questions=[tally.question]
                )
    return drift
