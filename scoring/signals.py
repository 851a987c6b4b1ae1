"""Receivers: scoring reacts to other apps' events through their signals."""

from django.dispatch import receiver

from challenges.models import Competition, Question
from challenges.signals import challenges_published
from scoring.flags import flags_prederive
from scoring.models import Principal


@receiver(challenges_published)
def prederive_published(sender, challenge_ids: list[int], **kwargs) -> None:
    """Derive the per-team flags of newly visible challenges for every principal."""
    questions = list(Question.objects.filter(challenge_id__in=challenge_ids))
    for competition in Competition.objects.all():
        principals = Principal.objects.filter(competition=competition, is_banned=False)
        flags_prederive(principals=principals, questions=questions)
