"""The score ledger: append-only ScoreEvents, totals kept with SQL expressions,
and dynamic values that follow every change in the number of public solvers."""

import math

from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce, Greatest

from challenges.models import Question
from scoring.models import Principal, ScoreEvent, ScoreReason, Solve
from scoring.values import dynamic_value

PUBLIC = Q(principal__is_hidden=False, principal__is_banned=False)


def ledger_write(
    *,
    principal_id: int,
    delta: int,
    reason: str,
    question=None,
    note: str = "",
    actor=None,
    solved_at=None,
) -> ScoreEvent | None:
    """Append one event and move the principal's total by the same delta.

    An event with `solved_at` records a solve: it also counts the solve and moves
    the last solve time, in the same UPDATE.
    """
    if delta == 0 and reason != ScoreReason.SOLVE:
        return None
    event = ScoreEvent.objects.create(
        principal_id=principal_id,
        delta=delta,
        reason=reason,
        question=question,
        note=note,
        actor=actor,
    )
    updates = {"score_total": F("score_total") + delta}
    if solved_at is not None:
        # Greatest keeps the latest solve even if commits land out of order.
        updates["last_solve_at"] = Greatest(
            Coalesce("last_solve_at", solved_at), solved_at
        )
        updates["solve_count"] = F("solve_count") + 1
    Principal.objects.filter(pk=principal_id).update(**updates)
    return event


def public_solve_count(question) -> int:
    return Solve.objects.filter(PUBLIC, question=question).count()


def question_value(question, public_solves: int | None = None) -> int:
    """What `question` is worth now (its static points, or the decayed value)."""
    challenge = question.challenge
    if challenge.type != "dynamic" or challenge.decay_initial is None:
        return question.points
    if public_solves is None:
        public_solves = public_solve_count(question)
    return dynamic_value(
        initial=challenge.decay_initial,
        decay=challenge.decay_decay or 0,
        minimum=challenge.decay_minimum or 0,
        function=challenge.decay_function or "logarithmic",
        solves=public_solves,
    )


def question_value_sync(question) -> int:
    """Bring every solver's points for a dynamic question to its current value.

    Writes one `decay` event per solver whose solve+decay events no longer add
    up to the value. Call it inside the transaction that changed the solvers.
    """
    if question.challenge.type != "dynamic":
        return 0
    value = question_value(question)
    held = dict(
        ScoreEvent.objects.filter(
            question=question, reason__in=[ScoreReason.SOLVE, ScoreReason.DECAY]
        )
        .values("principal_id")
        .annotate(total=Sum("delta"))
        .values_list("principal_id", "total")
    )
    changed = 0
    for principal_id in Solve.objects.filter(question=question).values_list(
        "principal_id", flat=True
    ):
        delta = value - held.get(principal_id, 0)
        if delta:
            ledger_write(
                principal_id=principal_id,
                delta=delta,
                reason=ScoreReason.DECAY,
                question=question,
            )
            changed += 1
    return changed


def first_blood_bonus(*, competition, question, rank: int, value: int) -> int:
    """The bonus of the `rank`-th public solver (1-based), from the competition."""
    bonuses = competition.first_blood_bonuses or []
    if rank < 1 or rank > len(bonuses):
        return 0
    return math.ceil(value * float(bonuses[rank - 1]) / 100)


def principal_dynamic_questions(principal: Principal):
    """Dynamic questions `principal` solved (their values move when it is banned)."""
    return Question.objects.filter(
        solves__principal=principal, challenge__type="dynamic"
    ).select_related("challenge")


@transaction.atomic
def scores_verify(*, fix: bool = False) -> list[dict]:
    """Compare every total, last solve and solve count with the ledger and the
    solves; with `fix`, repair the drift."""
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
        have = (principal.score_total, principal.last_solve_at, principal.solve_count)
        if have != (want_total, want_last, want_count):
            drift.append(
                {
                    "principal": principal.pk,
                    "name": str(principal),
                    "total": principal.score_total,
                    "ledger": want_total,
                    "last_solve_at": principal.last_solve_at,
                    "ledger_last_solve_at": want_last,
                    "solve_count": principal.solve_count,
                    "solves": want_count,
                }
            )
            if fix:
                Principal.objects.filter(pk=principal.pk).update(
                    score_total=want_total,
                    last_solve_at=want_last,
                    solve_count=want_count,
                )
    return drift
