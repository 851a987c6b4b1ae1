"""Read-only queries other apps use (the board, requirements) about solves."""

from django.db.models import Count, OuterRef, Q, Subquery

from challenges.models import Question
from scoring.models import Principal, Solve


def principal_score(principal: Principal) -> int:
    """The principal's score now, read from the database."""
    return (
        Principal.objects.with_score()
        .values_list("score", flat=True)
        .get(pk=principal.pk)
    )


def solved_question_ids(principal: Principal | None) -> set[int]:
    """Ids of the questions `principal` solved."""
    if principal is None:
        return set()
    return set(principal.solves.values_list("question_id", flat=True))


def challenge_solve_counts(competition, until=None) -> dict[int, int]:
    """Per challenge id, how many public principals solved all of its questions."""
    questions_in_challenge = (
        Question.objects.filter(challenge=OuterRef("question__challenge"))
        .values("challenge")
        .annotate(n=Count("pk"))
        .values("n")
    )
    complete = (
        Solve.objects.filter(
            *([Q(created_at__lte=until)] if until else []),
            principal__competition=competition,
            principal__is_hidden=False,
            principal__is_banned=False,
        )
        .values("question__challenge", "principal")
        .annotate(n=Count("pk"), need=Subquery(questions_in_challenge))
        .values_list("question__challenge", "n", "need")
    )
    counts: dict[int, int] = {}
    for challenge_id, solved, need in complete:
        if solved >= need:
            counts[challenge_id] = counts.get(challenge_id, 0) + 1
    return counts


def unlocked_hint_ids(principal: Principal | None) -> set[int]:
    """Ids of the hints `principal` paid for (or opened, when free)."""
    if principal is None:
        return set()
    return set(principal.hint_unlocks.values_list("hint_id", flat=True))


def principal_for(user, competition) -> Principal | None:
    """The principal `user` plays as, if it exists (never creates one)."""
    if not user.is_authenticated:
        return None
    plays_as = competition.plays_as(user)
    if plays_as == "team":
        return Principal.objects.filter(
            competition=competition, team_id=user.team_id
        ).first()
    if plays_as == "solo":
        return Principal.objects.filter(competition=competition, user=user).first()
    return None
