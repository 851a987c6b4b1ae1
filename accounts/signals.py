"""Receivers for writes that bypass the services (the admin saves models)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import APIToken, User
from accounts.services import tokens_forget, user_tokens_forget


@receiver(post_save, sender=User, dispatch_uid="accounts_user_saved")
def user_written(sender, instance: User, created: bool, **kwargs) -> None:
    """An edited account (deactivated, made staff, moved) drops its cached tokens."""
    if not created:
        user_tokens_forget(instance.pk)


@receiver(post_save, sender=APIToken, dispatch_uid="accounts_token_saved")
@receiver(post_delete, sender=APIToken, dispatch_uid="accounts_token_deleted")
def token_written(sender, instance: APIToken, created: bool = False, **kwargs):
    if not created:  # a new token is in no cache yet
        tokens_forget([instance.key_hash])
