"""Per-principal flags: derivation, the TeamFlag mirror, Redis, and owner look-ups.

A derived flag is an HMAC of FLAG_SECRET with competition, principal and
question, rendered into the question's template. Instance flags (a challenge
whose `instance.flag` is "dynamic") are random and issued each time an instance
starts; the previous one is kept as rotated, so a replay of it is detected.

The TeamFlag table is the truth. A dynamic flag is never copied into Redis's
`team_flags` hash (the attempt reads it from the table), so a rotation Redis
missed cannot leave a stale flag that would be accepted; the owner index it
missed is repaired by `flags_repair` (every minute) from the rows changed since
Redis last confirmed it had them all.
"""

import logging
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from challenges.models import Question
from scoring import store
from scoring.derivation import derive_flag, derived_template, flag_hash
from scoring.models import FlagStatus, Principal, TeamFlag

log = logging.getLogger(__name__)


def _mirror(rows: list[TeamFlag]) -> None:
    if not settings.REDIS_URL:
        return  # the embedded set-up has no Redis: the table is the store
    try:
        store.flags_put(
            [
                (f.principal_id, f.question_id, f.value, f.value_hash, f.status)
                for f in rows
            ],
            dynamic=dynamic_question_ids({f.question_id for f in rows}),
        )
    except store.StoreDown as error:
        # `flags_repair` copies these rows once Redis answers again.
        log.warning("flags not cached in Redis (repaired later): %s", error)


def is_dynamic(question) -> bool:
    """Whether the question's flag is issued fresh per instance start."""
    instance = (question.challenge.services or {}).get("instance") or {}
    return instance.get("flag") == "dynamic"


def dynamic_question_ids(question_ids) -> set[int]:
    """Those of `question_ids` whose flags are issued per instance (one query)."""
    if not question_ids:
        return set()
    return set(
        Question.objects.filter(
            pk__in=question_ids, challenge__services__instance__flag="dynamic"
        ).values_list("pk", flat=True)
    )


def expected_flag(principal: Principal, question) -> str | None:
    """The principal's own flag for `question`: Redis, then TeamFlag, then derived.

    A dynamic flag comes from the table alone: Redis may have missed a rotation.
    """
    dynamic = is_dynamic(question)
    if not dynamic:
        try:
            value = store.flag_get(principal.pk, question.pk)
            if value is not None:
                return value
        except store.StoreDown:
            pass
    row = TeamFlag.objects.filter(
        principal=principal, question=question, status=FlagStatus.CURRENT
    ).first()
    if row is not None and dynamic:
        return row.value
    if row is None:
        template = derived_template(question)
        if template is None:
            return None
        row = _store_flag(
            principal,
            question,
            derive_flag(
                template,
                competition_id=principal.competition_id,
                principal_id=principal.pk,
                question_id=question.pk,
            ),
        )
    _mirror([row])
    return row.value


def _store_flag(principal: Principal, question, value: str) -> TeamFlag:
    try:
        with transaction.atomic():
            return TeamFlag.objects.create(
                principal=principal,
                question=question,
                value=value,
                value_hash=flag_hash(value),
            )
    except IntegrityError:  # derived concurrently: the same value
        return TeamFlag.objects.get(
            principal=principal, question=question, status=FlagStatus.CURRENT
        )


def flags_prederive(*, principals, questions) -> int:
    """Derive and store the flags of every (principal, derived question) pair missing.

    Called when challenges become visible and when a principal joins, so the
    submission path never derives in bulk. Returns how many were created.
    """
    derived = [(q, derived_template(q)) for q in questions]
    derived = [(q, t) for q, t in derived if t]
    if not derived:
        return 0
    principals = list(principals)
    have = set(
        TeamFlag.objects.filter(
            principal__in=principals,
            question__in=[q for q, _ in derived],
            status=FlagStatus.CURRENT,
        ).values_list("principal_id", "question_id")
    )
    rows = []
    for principal in principals:
        for question, template in derived:
            if (principal.pk, question.pk) in have:
                continue
            value = derive_flag(
                template,
                competition_id=principal.competition_id,
                principal_id=principal.pk,
                question_id=question.pk,
            )
            rows.append(
                TeamFlag(
                    principal=principal,
                    question=question,
                    value=value,
                    value_hash=flag_hash(value),
                )
            )
    TeamFlag.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    _mirror(rows)
    return len(rows)


@transaction.atomic
def flag_issue_random(
    *, principal: Principal, question, prefix: str = "CTF", template: str = ""
) -> str:
    """Issue a fresh random flag (a new instance); the previous one becomes rotated.

    The random part fills `template`'s {hash}, or makes `<prefix>{<hex>}`. The
    row is committed before this returns, so the flag is accepted at once.
    """
    old = list(
        TeamFlag.objects.select_for_update().filter(
            principal=principal, question=question, status=FlagStatus.CURRENT
        )
    )
    TeamFlag.objects.filter(pk__in=[f.pk for f in old]).update(
        status=FlagStatus.ROTATED, rotated_at=timezone.now()
    )
    token = secrets.token_hex(16)
    if "{hash}" in template:
        value = template.replace("{hash}", token)
    else:
        value = f"{prefix}{{{token}}}"
    row = TeamFlag.objects.create(
        principal=principal, question=question, value=value, value_hash=flag_hash(value)
    )
    for flag in old:
        flag.status = FlagStatus.ROTATED
    transaction.on_commit(lambda: _mirror([*old, row]))
    return value


def flag_owner(value_hash: str) -> tuple[int, int, str] | None:
    """Whose per-principal flag this is: (principal, question, status), or None."""
    try:
        return store.flag_owner(value_hash)
    except store.StoreDown:
        pass
    # Redis is down or was emptied: the table is the truth until it is reloaded.
    row = (
        TeamFlag.objects.filter(value_hash=value_hash)
        .order_by("status")
        .values_list("principal_id", "question_id", "status")
        .first()
    )
    if settings.REDIS_URL and cache.add("scoring:flag-reindex", 1, timeout=300):
        # A worker reloads the index, not this player's request (with no broker
        # the task runs here, as everything does in the embedded set-up).
        from scoring.tasks import flags_reindex_task

        transaction.on_commit(flags_reindex_task.delay, robust=True)
    return tuple(row) if row else None


def flags_reindex(batch: int = 5000) -> int:
    """Load every TeamFlag into Redis (after Redis lost them); returns rows loaded."""
    loaded = 0
    started = timezone.now()
    try:
        dynamic = dynamic_question_ids(
            set(TeamFlag.objects.values_list("question_id", flat=True).distinct())
        )
        rows = TeamFlag.objects.order_by("pk").values_list(
            "principal_id", "question_id", "value", "value_hash", "status"
        )
        chunk = []
        for row in rows.iterator(chunk_size=batch):
            chunk.append(row)
            if len(chunk) >= batch:
                store.flags_put(chunk, dynamic=dynamic)
                loaded, chunk = loaded + len(chunk), []
        store.flags_put(chunk, dynamic=dynamic)
        store.index_mark_ready()
        store.synced_set((started - REPAIR_SLACK).timestamp())
    except store.StoreDown as error:
        log.warning("flag index not reloaded: %s", error)
        cache.delete("scoring:flag-reindex")
        return loaded
    return loaded + len(chunk)


# A rotation's transaction may commit this long after its rows' timestamps.
REPAIR_SLACK = timedelta(seconds=60)


def flags_repair() -> int:
    """Copy into Redis the TeamFlag rows changed since Redis last confirmed it
    had them all (rotations it missed while down); returns rows copied.

    An empty Redis is left to `flags_reindex`, which loads everything.
    """
    if not settings.REDIS_URL:
        return 0
    started = timezone.now()
    try:
        if not store.index_ready():
            return 0
        since = store.synced_get()
        moment = (
            datetime.fromtimestamp(since, tz=UTC)
            if since is not None
            else started - REPAIR_SLACK
        )
        rows = list(
            TeamFlag.objects.filter(
                Q(created_at__gte=moment) | Q(rotated_at__gte=moment)
            ).values_list(
                "principal_id", "question_id", "value", "value_hash", "status"
            )
        )
        dynamic = dynamic_question_ids({row[1] for row in rows})
        store.flags_put(rows, dynamic=dynamic)
        store.synced_set((started - REPAIR_SLACK).timestamp())
    except store.StoreDown as error:
        log.warning("flags not repaired in Redis: %s", error)
        return 0
    return len(rows)
