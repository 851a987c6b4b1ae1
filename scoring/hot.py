"""What a flag attempt reads and rarely changes, kept in each worker's memory.

The default competition, which challenges its effective set holds, and each
challenge with its questions are reloaded after the catalog version changes
(`challenges.access.catalog_changed`: every write to a challenge, question or
competition, and every deleted principal, bumps it in every process through the
shared cache; the version is asked for at most once a second) and at least every
MAX_AGE_SECONDS. A principal's identity (which team or player it stands for)
never changes once created, so that row is kept until the version changes, and
shared between workers through the cache for PRINCIPAL_SECONDS (a deletion
drops both, `principal_forget`). What does change is never read from here: the ban
comes from Redis or the database on every attempt (the pipeline), the score is
read again when a requirement needs it.

With no shared cache answering, nothing is kept: every call reads the database.
"""

import copy
import threading
import time
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Prefetch

from challenges.access import catalog_changed, catalog_version
from challenges.models import Challenge, Competition, Question
from scoring.models import Principal
from scoring.services import principal_resolve

# Another process's change reaches this one's attempts at most this late (the
# catalog version is asked for no more often).
REVALIDATE_SECONDS = 1.0
# Reloaded at least this often: a version bump lost while Redis was down must
# not leave a worker on old rows for good.
MAX_AGE_SECONDS = 60
MAX_PRINCIPALS = 100_000  # about 30 MB; past it the cache starts again
PRINCIPAL_SECONDS = 3600


@dataclass
class _Generation:
    version: str
    loaded_at: float
    competition: Competition
    challenge_ids: frozenset[int]
    challenges: dict[int, Challenge] = field(default_factory=dict)
    principals: dict[tuple, Principal] = field(default_factory=dict)


_current: _Generation | None = None
_lock = threading.Lock()


def _load(version, principals: dict) -> _Generation:
    competition = Competition.objects.default()
    return _Generation(
        version=version,
        loaded_at=time.monotonic(),
        competition=competition,
        challenge_ids=frozenset(
            competition.challenge_set().values_list("pk", flat=True)
        ),
        principals=principals,
    )


def _generation() -> _Generation:
    global _current
    version, current = catalog_version(max_age=REVALIDATE_SECONDS), _current
    if version is None:
        return _load(None, {})
    if current is None or current.version != version:
        current = _current = _load(version, {})
    elif time.monotonic() - current.loaded_at >= MAX_AGE_SECONDS:
        current = _current = _load(version, current.principals)
    return current


def current_competition() -> Competition:
    """The default competition, from this worker's memory (another process's
    change shows within REVALIDATE_SECONDS, this one's at once)."""
    return _generation().competition


def attempt_target(
    *, user, challenge_id: int
) -> tuple[Competition, Challenge | None, Principal | None]:
    """The default competition, its visible challenge `challenge_id` with the
    questions prefetched (None if the competition does not offer it), and the
    principal `user` plays as (created on first use; a copy, whose ban and score
    may be old)."""
    generation = _generation()
    competition = generation.competition
    if challenge_id not in generation.challenge_ids:
        return competition, None, None
    challenge = generation.challenges.get(challenge_id)
    if challenge is None:
        challenge = (
            Challenge.objects.filter(pk=challenge_id)
            .prefetch_related(
                Prefetch("questions", queryset=Question.objects.order_by("position"))
            )
            .first()
        )
        if challenge is None:
            return competition, None, None
        generation.challenges[challenge_id] = challenge
    return competition, challenge, _principal(generation, user)


def _principal_key(competition_id: int, kind: str, ident: int) -> str:
    """The shared cache key of a principal's identity (team or user id)."""
    return f"hot:principal:{competition_id}:{kind}:{ident}"


def principal_forget(principal: Principal) -> None:
    """No worker may keep scoring for a principal that is gone."""
    ident = principal.team_id if principal.kind == "team" else principal.user_id
    cache.delete(_principal_key(principal.competition_id, principal.kind, ident))
    catalog_changed()  # the per-worker copies live under the catalog version


def _principal(generation: _Generation, user) -> Principal | None:
    competition = generation.competition
    plays_as = competition.plays_as(user)
    if plays_as is None:
        return None
    principals = generation.principals
    ident = user.team_id if plays_as == "team" else user.pk
    key = (competition.pk, plays_as, ident)
    principal = principals.get(key)
    if principal is None:
        # Every worker meets every principal: share the identity through the
        # cache, so a worker's first attempt of a team costs no SQL either.
        shared = _principal_key(competition.pk, plays_as, ident)
        principal = cache.get(shared)
        if principal is None:
            principal = principal_resolve(user=user, competition=competition)
            if principal is None:
                return None
            # With its team or player loaded: the audit names it on a solve.
            principal = (
                Principal.objects.select_related("team", "user")
                .defer("user__password")  # never in the cache
                .get(pk=principal.pk)
            )
            cache.set(shared, principal, PRINCIPAL_SECONDS)
        if generation.version is None:
            return principal
        with _lock:
            if len(principals) >= MAX_PRINCIPALS:
                principals.clear()
            principals[key] = principal
    return copy.copy(principal)  # the pipeline may set attributes on it
