"""Scoring operations other than the submission pipeline (see pipeline.py):
principals, bans, manual adjustments, hint unlocks, attempt resets, decoys."""

import contextlib

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from audit.models import EventType
from audit.services import record
from challenges.models import Question
from scoring import store
from scoring.decoys import decoys_changed
from scoring.derivation import flag_hash
from scoring.flags import flags_prederive
from scoring.ledger import ledger_write
from scoring.models import (
    AttemptReset,
    CheatKind,
    DecoyFlag,
    HintUnlock,
    Principal,
    PrincipalKind,
    ScoreEvent,
    ScoreReason,
    Solve,
    ValueChange,
)
from scoring.scoreboard import standings_changed
from scoring.tallies import (
    principal_lock,
    principal_questions,
    question_value,
    tallies_lock,
    tallies_recount,
)


def principal_resolve(*, user, competition) -> Principal | None:
    """Return the principal `user` plays as in `competition`, creating it on first use.

    None when the competition's play mode leaves the user out (a team-only event
    and a user without a team). A new principal gets its derived flags at once.
    """
    plays_as = competition.plays_as(user)
    if plays_as is None:
        return None
    if plays_as == "team":
        lookup = {"team_id": user.team_id, "kind": PrincipalKind.TEAM}
    else:
        lookup = {"user_id": user.pk, "kind": PrincipalKind.SOLO}
    principal = Principal.objects.filter(competition=competition, **lookup).first()
    if principal is not None:
        return principal
    try:
        with transaction.atomic():
            principal = Principal.objects.create(competition=competition, **lookup)
    except IntegrityError:  # another request created it first
        return Principal.objects.get(competition=competition, **lookup)
    flags_prederive(
        principals=[principal],
        questions=Question.objects.filter(challenge__in=competition.challenge_set()),
    )
    return principal


def principal_copies_changed(principal_id: int) -> None:
    """Drop Redis's copies of the principal's ban and solves: now, and again after
    the commit (a request may have copied the old rows in between)."""

    def forget() -> None:
        with contextlib.suppress(store.StoreDown):
            store.copies_forget(principal_id=principal_id)

    forget()
    transaction.on_commit(forget)


def _principal_change(principal: Principal, **change) -> bool:
    """Set `change` (a ban, a hidden flag) on the principal; the public solve
    counts and dynamic values of what it solved follow. False if unchanged."""
    principal_lock(principal.pk)
    questions = list(principal_questions(principal))
    tallies_lock(competition_id=principal.competition_id, questions=questions)
    changed = (
        Principal.objects.filter(pk=principal.pk).exclude(**change).update(**change)
    )
    for name, value in change.items():
        setattr(principal, name, value)
    if changed:
        tallies_recount(competition_id=principal.competition_id, questions=questions)
        standings_changed(principal.competition_id)
    return bool(changed)


@transaction.atomic
def principal_set_banned(
    *,
    principal: Principal,
    banned: bool,
    actor=None,
    reason: str = "",
    auto: bool = False,
    user=None,
) -> bool:
    """Ban or unban; dynamic values of what it solved follow. False if unchanged."""
    if not _principal_change(principal, is_banned=banned):
        return False
    principal_copies_changed(principal.pk)
    if auto:
        label = CheatKind(reason).label if reason in CheatKind.values else reason
        record(
            EventType.USER_AUTO_BANNED_CHEATING,
            principal=principal,
            team=principal.team_id,
            user=user or principal.user_id,
            subject=str(principal),
            message=label,
            details={"reason": reason},
        )
    else:
        record(
            EventType.USER_BAN_TOGGLED,
            actor=actor,
            principal=principal,
            team=principal.team_id,
            subject=str(principal),
            message=("banned" if banned else "unbanned")
            + (f": {reason}" if reason else ""),
        )
    return True


@transaction.atomic
def principal_set_hidden(*, principal: Principal, hidden: bool, actor=None) -> bool:
    """Hide from (or show on) the scoreboard; dynamic values follow."""
    return _principal_change(principal, is_hidden=hidden)


@transaction.atomic
def score_adjust(*, principal: Principal, delta: int, note: str, actor) -> None:
    """Adjust by hand: an `admin:<note>` ledger event and a SCORE_ADJUSTED record."""
    note = note.strip()
    if not note:
        raise ValidationError("Say why the score changes.", code="note_required")
    if not delta:
        raise ValidationError("The adjustment cannot be zero.", code="zero_delta")
    ledger_write(
        principal_id=principal.pk,
        delta=delta,
        reason=ScoreReason.ADMIN,
        note=note[:200],
        actor=actor,
    )
    standings_changed(principal.competition_id)
    record(
        EventType.SCORE_ADJUSTED,
        actor=actor,
        principal=principal,
        team=principal.team_id,
        subject=str(principal),
        message=f"{delta:+d} admin:{note}"[:500],
        details={"delta": delta},
    )


def hint_unlock(*, principal: Principal, hint, user) -> bool:
    """Unlock a hint once per principal, paying its cost. False if already unlocked."""
    try:
        with transaction.atomic():
            HintUnlock.objects.create(principal=principal, hint=hint, user=user)
            if hint.cost:
                ledger_write(
                    principal_id=principal.pk,
                    delta=-hint.cost,
                    reason=ScoreReason.HINT,
                    note=f"hint {hint.pk}",
                )
                standings_changed(principal.competition_id)
    except IntegrityError:
        return False
    return True


def question_attempts_reset(
    *, principal: Principal, question, admin, reason: str
) -> AttemptReset:
    """Give the principal a fresh wrong-attempt budget (no submission is deleted)."""
    if not reason.strip():
        raise ValidationError("Say why the attempts are reset.", code="reason_required")
    return AttemptReset.objects.create(
        principal=principal, question=question, admin=admin, reason=reason.strip()[:300]
    )


def decoy_create(*, competition, value: str, where: str = "") -> DecoyFlag:
    """Plant a decoy flag; anyone who submits it is treated like a flag sharer."""
    value = value.strip()
    if not value:
        raise ValidationError("A decoy needs a value.", code="value_required")
    decoy = DecoyFlag.objects.create(
        competition=competition, value=value, value_hash=flag_hash(value), where=where
    )
    transaction.on_commit(lambda: decoys_changed(competition))
    return decoy


@transaction.atomic
def decoy_delete(*, decoys) -> int:
    """Remove decoys (their past hits stay recorded); returns how many."""
    competitions = {d.competition for d in decoys.select_related("competition")}
    removed, _ = decoys.delete()
    for competition in competitions:
        transaction.on_commit(lambda c=competition: decoys_changed(c))
    return removed


def _solve_reverse(solve: Solve, *, note: str, actor=None) -> int:
    """Take back what `solve` earned (the caller deletes it): reversing events
    under the same reasons, so the question's sums stay right if the principal
    solves it again, and the solve count and last solve without it. Returns
    the points taken back, dynamic drift included."""
    principal, question = solve.principal, solve.question
    _drift_into_ledger(solve)
    held = dict(
        ScoreEvent.objects.filter(principal=principal, question=question)
        .values("reason")
        .annotate(total=Sum("delta"))
        .values_list("reason", "total")
    )
    # Decay events (the drift just written, or a migrated ledger's) go back
    # with the solve.
    reversed_points = {
        ScoreReason.SOLVE: held.get(ScoreReason.SOLVE, 0)
        + held.get(ScoreReason.DECAY, 0),
        ScoreReason.FIRST_BLOOD: held.get(ScoreReason.FIRST_BLOOD, 0),
    }
    for reason_code, points in reversed_points.items():
        if points:
            ledger_write(
                principal_id=principal.pk,
                delta=-points,
                reason=reason_code,
                question=question,
                note=note,
                actor=actor,
            )
    last = principal.solves.exclude(pk=solve.pk).aggregate(last=Max("created_at"))[
        "last"
    ]
    Principal.objects.filter(pk=principal.pk).update(
        last_solve_at=last, solve_count=F("solve_count") - 1
    )
    return sum(reversed_points.values())


def _drift_into_ledger(solve: Solve) -> None:
    """Write what a dynamic solve gained or lost since it was credited as decay
    events at the times of the value changes: with the solve gone, the ledger
    alone still says what it held at any time (a frozen board before it)."""
    principal = solve.principal
    changes = ValueChange.objects.filter(
        competition_id=principal.competition_id,
        question_id=solve.question_id,
        created_at__gt=solve.created_at,
    ).order_by("created_at", "pk")
    events, held = [], solve.points
    for at, value in changes.values_list("created_at", "value"):
        if value != held:
            events.append(
                ScoreEvent(
                    principal=principal,
                    delta=value - held,
                    reason=ScoreReason.DECAY,
                    question_id=solve.question_id,
                    note="value change, written when the solve was removed",
                    created_at=at,
                )
            )
            held = value
    ScoreEvent.objects.bulk_create(events, batch_size=2000)
    Principal.objects.filter(pk=principal.pk).update(
        ledger_total=F("ledger_total") + (held - solve.points)
    )


@transaction.atomic
def solve_delete(*, solve: Solve, actor, reason: str) -> int:
    """Undo a solve: reverse its points in the ledger and let dynamic values follow.

    Returns the points taken back. The submission history stays.
    """
    if not reason.strip():
        raise ValidationError("Say why the solve is removed.", code="reason_required")
    principal, question = solve.principal, solve.question
    principal_lock(principal.pk)
    tallies_lock(competition_id=principal.competition_id, questions=[question])
    held = _solve_reverse(
        solve, note=f"solve removed: {reason.strip()}"[:200], actor=actor
    )
    solve.delete()
    tallies_recount(competition_id=principal.competition_id, questions=[question])
    standings_changed(principal.competition_id)
    principal_copies_changed(principal.pk)
    record(
        EventType.SCORE_ADJUSTED,
        actor=actor,
        principal=principal,
        team=principal.team_id,
        subject=str(principal),
        message=f"solve of {question} removed ({-held:+d}): {reason.strip()}"[:500],
        details={"question": question.pk, "delta": -held},
    )
    return held


def question_solves_remove(*, question) -> int:
    """Before a question is deleted: take its points back from every solver (its
    solves, tallies and value history go with it). Returns how many solves."""
    solves = list(
        Solve.objects.filter(question=question)
        .select_related("principal", "question")
        .order_by("principal_id")
    )
    for solve in solves:  # the lock order: principals, then the tallies
        principal_lock(solve.principal_id)
    for competition_id in {s.principal.competition_id for s in solves}:
        tallies_lock(competition_id=competition_id, questions=[question])
    for solve in solves:
        _solve_reverse(solve, note=f"question deleted: {question}"[:200])
        standings_changed(solve.principal.competition_id)
        principal_copies_changed(solve.principal_id)
    if solves:
        record(
            EventType.SCORE_ADJUSTED,
            subject=str(question)[:200],
            message=f"question {question} deleted: {len(solves)} solve(s) reversed",
            details={"question": question.pk, "solves": len(solves)},
        )
    return len(solves)


def solo_solves_fold(*, user) -> int:
    """Move `user`'s solo solves into the team they just entered, in every
    competition where they now play as it: one person never ranks twice.

    Each solve the team lacks becomes the team's, worth the question's value
    now (from this time, no first-blood rank), with its first-blood bonus; one
    the team has goes. The solo principal keeps its hints, adjustments and
    submissions and leaves the board while its player is in a team. Returns
    how many solves moved.
    """
    moved = 0
    for solo in Principal.objects.filter(user=user, kind=PrincipalKind.SOLO):
        competition = solo.competition
        if competition.plays_as(user) != "team" or not solo.solves.exists():
            continue
        team = principal_resolve(user=user, competition=competition)
        moved += _fold(solo, team)
    return moved


def _fold(solo: Principal, team: Principal) -> int:
    for pk in sorted([solo.pk, team.pk]):  # the lock order, see scoring.tallies
        principal_lock(pk)
    solves = list(solo.solves.select_related("principal", "question__challenge"))
    questions = [s.question for s in solves]
    competition_id = solo.competition_id
    tallies_lock(competition_id=competition_id, questions=questions)
    held = set(team.solves.values_list("question_id", flat=True))
    bonuses = dict(
        solo.score_events.filter(reason=ScoreReason.FIRST_BLOOD)
        .values("question")
        .annotate(total=Sum("delta"))
        .values_list("question", "total")
    )
    note = f"solo solves of {solo} folded into {team}"[:200]
    for solve in solves:
        _solve_reverse(solve, note=note)
        solve.delete()
    now = timezone.now()
    moving = [s for s in solves if s.question_id not in held]
    moved = {
        s.question_id: Solve.objects.create(
            principal=team, question=s.question, user=s.user, created_at=now
        )
        for s in moving
    }
    # Counted once with the moves in: values change only for what was dropped.
    tallies_recount(competition_id=competition_id, questions=questions)
    for solve in moving:
        value = question_value(solve.question, solo.competition)
        Solve.objects.filter(pk=moved[solve.question_id].pk).update(points=value)
        ledger_write(
            principal_id=team.pk,
            delta=value,
            reason=ScoreReason.SOLVE,
            question=solve.question,
            note=note,
            solved_at=now,
            bonus=bonuses.get(solve.question_id, 0),
        )
    for principal in (solo, team):
        standings_changed(principal.competition_id)
        principal_copies_changed(principal.pk)
    record(
        EventType.SCORE_ADJUSTED,
        principal=team,
        team=team.team_id,
        user=solo.user_id,
        subject=str(team),
        message=f"{note}: {len(moving)} moved, {len(solves) - len(moving)} "
        "already solved by the team"[:500],
        details={"solo": solo.pk, "moved": len(moving), "dropped": len(solves)},
    )
    return len(moving)


def principal_leave_board(*, principal: Principal) -> None:
    """Before a principal is deleted: hide it, so the values of what it solved
    move for the others as when it is hidden by hand."""
    _principal_change(principal, is_hidden=True)
