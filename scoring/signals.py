"""Receivers: scoring reacts to other apps' events through their signals."""

from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from accounts.services import team_changed, user_renamed
from challenges.access import catalog_changed
from challenges.models import Challenge, Competition, Question
from challenges.signals import challenges_published
from scoring.flags import flags_prederive
from scoring.hot import principal_forget
from scoring.models import Principal, QuestionTally
from scoring.scoreboard import standings_changed
from scoring.services import (
    principal_leave_board,
    question_solves_remove,
    solo_solves_fold,
)
from scoring.tallies import tallies_recount


@receiver(challenges_published)
def prederive_published(sender, challenge_ids: list[int], **kwargs) -> None:
    """Derive the per-team flags of newly visible challenges for every principal."""
    questions = list(Question.objects.filter(challenge_id__in=challenge_ids))
    for competition in Competition.objects.all():
        principals = Principal.objects.filter(competition=competition, is_banned=False)
        flags_prederive(principals=principals, questions=questions)


@receiver(post_save, sender=Competition, dispatch_uid="hot_competition_saved")
@receiver(post_delete, sender=Competition, dispatch_uid="hot_competition_deleted")
@receiver(
    m2m_changed, sender=Competition.challenges.through, dispatch_uid="hot_set_changed"
)
def attempt_data_written(sender, **kwargs) -> None:
    """Attempts keep competitions and challenge sets under the catalog version
    (`scoring.hot`): an admin edit bumps it."""
    catalog_changed()


@receiver(post_delete, sender=Principal, dispatch_uid="hot_principal_deleted")
def principal_deleted(sender, instance: Principal, **kwargs) -> None:
    principal_forget(instance)


@receiver(post_save, sender=Challenge, dispatch_uid="values_challenge_saved")
def challenge_saved(sender, instance: Challenge, created: bool, **kwargs) -> None:
    """New decay settings (or a new type) move the values its solvers hold."""
    if created:
        return
    by_competition: dict[int, list[Question]] = {}
    for tally in QuestionTally.objects.filter(
        question__challenge=instance
    ).select_related("question__challenge"):
        by_competition.setdefault(tally.competition_id, []).append(tally.question)
    for competition_id, questions in by_competition.items():
        tallies_recount(competition_id=competition_id, questions=questions)


@receiver(pre_delete, sender=Question, dispatch_uid="ledger_question_deleted")
def question_deleted(sender, instance: Question, **kwargs) -> None:
    """However a question goes (the admin, its challenge's deletion), its solvers
    lose its points in the ledger first: totals and solve counts stay true."""
    question_solves_remove(question=instance)


@receiver(pre_delete, sender=Principal, dispatch_uid="ledger_principal_deleted")
def principal_deleting(sender, instance: Principal, origin=None, **kwargs) -> None:
    """A deleted principal's solves stop counting for the values of what it
    solved (not worth doing when its whole competition goes)."""
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    if model is not Competition:
        principal_leave_board(principal=instance)


@receiver(user_renamed, dispatch_uid="scoring_user_renamed")
def user_renamed_on_boards(sender, user_id: int, **kwargs) -> None:
    """A solo player's new name shows on the scoreboards (and in the audit) at once."""
    for principal in Principal.objects.filter(user_id=user_id):
        principal_forget(principal)
        standings_changed(principal.competition_id)


@receiver(team_changed, dispatch_uid="scoring_team_changed")
def team_changed_on_boards(sender, user, team, **kwargs) -> None:
    """A player who enters a team brings their solo solves along; their solo
    row leaves the boards (or comes back when they leave)."""
    if team is not None:
        solo_solves_fold(user=user)
    for principal in Principal.objects.filter(user=user):
        standings_changed(principal.competition_id)
