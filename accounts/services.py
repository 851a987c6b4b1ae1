"""Account operations: registration, teams, API tokens. Every interface calls these."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import (
    USERNAME_PATTERN,
    USERNAME_RULE,
    APIToken,
    Team,
    User,
    new_invite_code,
)
from audit.models import EventType
from audit.services import record

TOKEN_PREFIX = "ctf_"  # noqa: S105  (a label, not a secret)
# `last_used_at` is written at most this often per token: a script that submits
# flags in a loop must not cost an UPDATE on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=10)
# Cached tokens are read from the database again this often (and at once after
# a revocation or an account change), so their use is noted on that read.
TOKEN_CACHE_SECONDS = int(TOKEN_TOUCH_INTERVAL.total_seconds())
FORGOTTEN, FORGOTTEN_SECONDS = "forgotten", 10

# Sent with `user_id` once a player's new name is committed (scoring, above this
# app, shows it on the scoreboard).
user_renamed = Signal()
# Sent with `user` and `team` (None: they left or were kicked), inside the
# transaction, whenever a player's team changes: scoring folds their solo solves
# into a team they enter, so one person never ranks twice.
team_changed = Signal()


def _check_username(username: str, *, user: User | None = None) -> None:
    """Registration's rules for a name: its shape, and unique whatever the case."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationError(USERNAME_RULE, code="username_invalid")
    taken = User.objects.filter(username__iexact=username)
    if user is not None:
        taken = taken.exclude(pk=user.pk)
    if taken.exists():
        raise ValidationError("That username is taken.", code="username_taken")


def user_register(*, username: str, email: str, password: str) -> User:
    """Create a player account, unless registration is closed."""
    if not settings.REGISTRATION_OPEN:
        raise ValidationError("Registration is closed.", code="registration_closed")
    _check_username(username)
    user = User(username=username, email=email)
    validate_password(password, user)
    user.set_password(password)
    try:
        user.save()
    except IntegrityError:  # the same name registered concurrently
        raise ValidationError(
            "That username is taken.", code="username_taken"
        ) from None
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    username: str | None = None,
    email: str | None = None,
    password: str | None = None,
) -> list[str]:
    """Change a player's name, email or password (registration's rules); returns
    what changed. Other sessions end with a new password (Django's session hash)."""
    changed = []
    if username is not None and username != user.username:
        _check_username(username, user=user)
        user.username = username
        changed.append("username")
    if email is not None and email != user.email:
        user.email = email
        changed.append("email")
    if password is not None:
        validate_password(password, user)
        user.set_password(password)
        changed.append("password")
    if not changed:
        return changed
    try:
        with transaction.atomic():
            user.save(update_fields=changed)
    except IntegrityError:  # the same name taken concurrently
        raise ValidationError(
            "That username is taken.", code="username_taken"
        ) from None
    record(
        EventType.USER_SETTINGS_CHANGED,
        actor=user,
        user=user,
        subject=user.username,
        message=", ".join(changed),
    )
    if "username" in changed:
        transaction.on_commit(lambda: user_renamed.send(sender=User, user_id=user.pk))
    return changed


# Password-reset mail: at most this many per address and per client IP an hour.
RESET_PER_ADDRESS, RESET_PER_IP, RESET_WINDOW = 3, 10, 3600


def _over_limit(key: str, limit: int) -> bool:
    cache.add(key, 0, RESET_WINDOW)  # the window starts with the first request
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between the two calls: a new window
        cache.set(key, 1, RESET_WINDOW)
        return False


def password_reset_request(*, email: str, ip: str | None, send) -> bool:
    """Mail a reset link to the accounts of `email` through `send()` (Django's
    PasswordResetForm.save), within the limits; False when the client IP is
    over its limit. Past the address's limit nothing is sent, silently, so the
    answer never tells whether an address has an account."""
    if ip and _over_limit(f"accounts:reset:ip:{ip}", RESET_PER_IP):
        return False
    address = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    if _over_limit(f"accounts:reset:address:{address}", RESET_PER_ADDRESS):
        return True
    send()
    record(EventType.PASSWORD_RESET_REQUESTED, ip=ip, details={"address": address})
    return True


def _team_is_full(team: Team) -> bool:
    limit = settings.TEAM_SIZE_LIMIT
    return bool(limit) and team.members.count() >= limit


def _assign_team(user: User, team: Team | None, *, only_if: Team | None = None) -> bool:
    """Move `user` into `team` if their team is still `only_if` (None: no team)."""
    current = {"team__isnull": True} if only_if is None else {"team": only_if}
    changed = User.objects.filter(pk=user.pk, **current).update(
        team=team, team_joined_at=timezone.now() if team else None
    )
    user.refresh_from_db(fields=["team", "team_joined_at"])
    if changed:
        user_tokens_forget(user.pk)  # its cached tokens carry the old team
        team_changed.send(sender=User, user=user, team=team)
    return changed == 1


@transaction.atomic
def team_create(*, user: User, name: str) -> Team:
    """Create a team with `user` as its captain and only member."""
    name = name.strip()
    if not name:
        raise ValidationError("A team needs a name.", code="team_name_required")
    if user.team_id is not None:
        raise ValidationError("Leave your current team first.", code="already_in_team")
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationError("A team with that name exists.", code="team_name_taken")
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, captain=user)
    except IntegrityError:
        raise ValidationError(
            "A team with that name exists.", code="team_name_taken"
        ) from None
    if not _assign_team(user, team):
        raise ValidationError("Leave your current team first.", code="already_in_team")
    record(EventType.TEAM_CREATED, actor=user, user=user, team=team)
    return team


@transaction.atomic
def team_join(*, user: User, code: str) -> Team:
    """Join the team whose invite code is `code`, if it has room."""
    code = code.strip()
    # Lock the team row so two players cannot both take its last seat.
    team = Team.objects.select_for_update().filter(invite_code=code).first()
    if not code or team is None:
        raise ValidationError("No team has that invite code.", code="bad_invite_code")
    if user.team_id == team.pk:
        raise ValidationError("You are already in this team.", code="already_member")
    if user.team_id is not None:
        raise ValidationError("Leave your current team first.", code="already_in_team")
    if _team_is_full(team):
        raise ValidationError(
            f"{team.name} is full ({settings.TEAM_SIZE_LIMIT} members).",
            code="team_full",
        )
    if not _assign_team(user, team):
        raise ValidationError("Leave your current team first.", code="already_in_team")
    record(EventType.TEAM_JOINED, actor=user, user=user, team=team)
    return team


@transaction.atomic
def team_leave(*, user: User) -> None:
    """Leave your team; a captain hands over first unless they are the last member."""
    team = Team.objects.select_for_update().filter(pk=user.team_id).first()
    if team is None:
        raise ValidationError("You are not in a team.", code="not_in_team")
    others = team.members.exclude(pk=user.pk)
    if team.captain_id == user.pk and others.exists():
        raise ValidationError(
            "Transfer the captaincy to another member before leaving.",
            code="captain_must_transfer",
        )
    _assign_team(user, None, only_if=team)
    record(EventType.TEAM_LEFT, actor=user, user=user, team=team)
    if not others.exists():
        try:
            with transaction.atomic():
                team.delete()
        except ProtectedError:
            pass  # the team has history (a score, solves): keep it, empty


def _captain_team(captain: User) -> Team:
    team = Team.objects.select_for_update().filter(pk=captain.team_id).first()
    if team is None or team.captain_id != captain.pk:
        raise ValidationError("Only the team captain can do that.", code="not_captain")
    return team


@transaction.atomic
def team_kick(*, captain: User, member: User) -> None:
    """Remove `member` from the captain's team."""
    team = _captain_team(captain)
    if member.pk == captain.pk:
        raise ValidationError(
            "Captains leave rather than kick themselves.", code="cannot_kick_self"
        )
    if not _assign_team(member, None, only_if=team):
        raise ValidationError(f"{member} is not in {team}.", code="not_member")
    record(EventType.TEAM_MEMBER_KICKED, actor=captain, user=member, team=team)


@transaction.atomic
def team_transfer_captain(*, captain: User, new_captain: User) -> Team:
    """Make another member the captain."""
    team = _captain_team(captain)
    if new_captain.team_id != team.pk or new_captain.pk == captain.pk:
        raise ValidationError(
            "The new captain must be another member of the team.", code="not_member"
        )
    team.captain = new_captain
    team.save(update_fields=["captain"])
    record(
        EventType.TEAM_CAPTAIN_TRANSFERRED, actor=captain, user=new_captain, team=team
    )
    return team


@transaction.atomic
def team_regenerate_invite_code(*, captain: User) -> Team:
    """Replace the invite code, so the old one stops working."""
    team = _captain_team(captain)
    team.invite_code = new_invite_code()
    team.save(update_fields=["invite_code"])
    return team


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(
    *, user: User, name: str = "", expires_days: int | None = None
) -> tuple[APIToken, str]:
    """Create an API token and return it with its raw value, which is never stored."""
    if expires_days is not None and expires_days <= 0:
        raise ValidationError(
            "Expiry must be a positive number of days.", code="bad_expiry"
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        key_hash=_hash_token(raw),
        expires_at=timezone.now() + timedelta(days=expires_days)
        if expires_days
        else None,
    )
    record(
        EventType.API_TOKEN_CREATED,
        actor=user,
        user=user,
        details={"token": token.prefix, "expires_at": str(token.expires_at)},
    )
    return token, raw


def token_revoke(*, token: APIToken, actor: User | None = None) -> None:
    """Revoke a token; requests with it are refused from now on."""
    revoked = APIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    tokens_forget([token.key_hash])
    if revoked:
        record(
            EventType.API_TOKEN_REVOKED,
            actor=actor or token.user,
            user=token.user,
            details={"token": token.prefix},
        )


def _token_key(key_hash: str) -> str:
    return f"accounts:token:{key_hash}"


def tokens_forget(key_hashes: list[str]) -> None:
    """Drop cached tokens: now, and after the commit. A short-lived marker takes
    their place, so a request that read the old row meanwhile cannot store it."""

    def forget() -> None:
        cache.set_many(
            {_token_key(h): FORGOTTEN for h in key_hashes}, FORGOTTEN_SECONDS
        )

    forget()
    transaction.on_commit(forget)


def user_tokens_forget(user_id: int) -> None:
    """Drop the cached tokens of a user whose account or team changed."""
    tokens_forget(
        list(
            APIToken.objects.filter(user_id=user_id).values_list("key_hash", flat=True)
        )
    )


def token_authenticate(raw: str) -> APIToken | None:
    """Return the usable token whose raw value is `raw`, and note its use.

    The token with its user is cached for TOKEN_CACHE_SECONDS (every flag
    submission authenticates); revoking it, or changing the user's account or
    team, drops the cached copy. Its use is noted when it is read from the
    database, which is at least every TOKEN_TOUCH_INTERVAL.
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    # Looked up by SHA-256: the database compares digests, never the secret itself.
    key_hash = _hash_token(raw)
    now = timezone.now()
    token = cache.get(_token_key(key_hash))
    if not isinstance(token, APIToken):
        token = (
            APIToken.objects.usable()
            .select_related("user")
            .defer("user__password")  # never in the cache
            .filter(key_hash=key_hash)
            .first()
        )
        if token is None or not token.user.is_active:
            return None
        if (
            token.last_used_at is None
            or now - token.last_used_at > TOKEN_TOUCH_INTERVAL
        ):
            APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        # add, not set: a marker left by a revocation meanwhile must win.
        cache.add(_token_key(key_hash), token, TOKEN_CACHE_SECONDS)
    if (
        not token.user.is_active
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        return None
    return token
