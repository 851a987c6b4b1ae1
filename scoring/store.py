"""The Redis side of scoring: the one module that knows its key layout.

    team_flags:<principal>   hash  question id -> the principal's current flag
    flag_owner:<sha256>      str   "<principal>:<question>:<current|rotated>"
    flag_index:ready         str   set once every TeamFlag is in the two above
    wrong:<principal>        zset  timestamps of wrong attempts (sliding window)
    lock:<principal>         str   set for the lockout, expires with it

Every function raises `StoreDown` when Redis is not configured or does not
answer; callers then use the database (TeamFlag, Submission), so scoring keeps
working with Redis stopped.
"""

import time
import uuid

from django.conf import settings
from django_redis import get_redis_connection
from redis.exceptions import RedisError

READY = "flag_index:ready"


class StoreDown(Exception):
    """Redis is not configured or did not answer."""


def _redis():
    if not settings.REDIS_URL:
        raise StoreDown("REDIS_URL is not set")
    return get_redis_connection("default")


def _call(fn):
    try:
        return fn(_redis())
    except RedisError as error:
        raise StoreDown(str(error)) from error


def flag_get(principal_id: int, question_id: int) -> str | None:
    """The principal's current flag for the question, if Redis has it."""
    value = _call(lambda r: r.hget(f"team_flags:{principal_id}", question_id))
    return value.decode() if value is not None else None


def flags_put(entries: list[tuple[int, int, str, str, str]]) -> None:
    """Store (principal, question, value, value_hash, status) rows and their owners."""

    def write(r):
        pipe = r.pipeline(transaction=False)
        for principal_id, question_id, value, value_hash, status in entries:
            if status == "current":
                pipe.hset(f"team_flags:{principal_id}", question_id, value)
            pipe.set(
                f"flag_owner:{value_hash}", f"{principal_id}:{question_id}:{status}"
            )
        pipe.execute()

    if entries:
        _call(write)


def flag_forget(principal_id: int, question_id: int) -> None:
    """Drop a current flag (it rotated); its owner entry stays, marked by the caller."""
    _call(lambda r: r.hdel(f"team_flags:{principal_id}", question_id))


def flag_owner(value_hash: str) -> tuple[int, int, str] | None:
    """Whose flag has this SHA-256: (principal, question, status), or None.

    One round trip. Raises StoreDown also when the index is not complete (Redis
    restarted empty), since a miss would then prove nothing.
    """
    raw, ready = _call(lambda r: r.mget(f"flag_owner:{value_hash}", READY))
    if raw is None:
        if ready is None:
            raise StoreDown("the flag index is not loaded")
        return None
    principal_id, question_id, status = raw.decode().split(":")
    return int(principal_id), int(question_id), status


def index_mark_ready() -> None:
    """Say that every TeamFlag row is now in Redis."""
    _call(lambda r: r.set(READY, 1))


def lock_remaining(principal_id: int) -> int:
    """Seconds left of the principal's lockout (0 when not locked)."""
    ttl = _call(lambda r: r.pttl(f"lock:{principal_id}"))
    return max(0, -(-ttl // 1000)) if ttl and ttl > 0 else 0


def wrong_attempt(
    principal_id: int, *, attempts: int, window: int, lockout: int
) -> int:
    """Count a wrong attempt in the sliding window; lock out on the `attempts`-th.

    Returns the lockout seconds now in force (0 if none).
    """
    now = time.time()
    key = f"wrong:{principal_id}"

    def write(r):
        pipe = r.pipeline(transaction=True)
        pipe.zremrangebyscore(key, 0, now - window)
        pipe.zadd(key, {f"{now}:{uuid.uuid4().hex[:8]}": now})
        pipe.zcard(key)
        pipe.expire(key, window + 1)
        count = pipe.execute()[2]
        if count >= attempts:
            r.set(f"lock:{principal_id}", 1, ex=lockout)
            r.delete(key)
            return lockout
        return 0

    return _call(write)


def wrong_clear(principal_id: int) -> None:
    """Forget wrong attempts and any lockout (after a correct submission)."""
    _call(lambda r: r.delete(f"wrong:{principal_id}", f"lock:{principal_id}"))
