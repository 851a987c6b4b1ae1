"""Receivers: scoring reacts to other apps' events through their signals."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts.services import user_renamed
from challenges.access import catalog_changed
from challenges.models import Competition, Question
from challenges.signals import challenges_published
from scoring.flags import flags_prederive
from scoring.hot import principal_forget
from scoring.models import Principal
from scoring.scoreboard import standings_changed


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


@receiver(user_renamed, dispatch_uid="scoring_user_renamed")
def user_renamed_on_boards(sender, user_id: int, **kwargs) -> None:
    """A solo player's new name shows on the scoreboards (and in the audit) at once."""
    for principal in Principal.objects.filter(user_id=user_id):
        principal_forget(principal)
        standings_changed(principal.competition_id)
