"""The Redis side of scoring: the one module that knows its key layout.

    team_flags:<principal>   hash  question id -> the principal's current flag
    flag_owner:<sha256>      str   "<principal>:<question>:<current|rotated>"
    flag_index:ready         str   set once every TeamFlag is in the two above
    wrong:<principal>        zset  attempts in the sliding window (reserved before
                                   the comparison, kept when wrong)
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


# Check the lock and the window, and take a place in the window, in one step:
# parallel requests cannot all pass the check before any of them is counted.
_RESERVE = """
local lock, key = KEYS[1], KEYS[2]
local now, window, attempts, lockout = tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), tonumber(ARGV[4])
local left = redis.call('PTTL', lock)
if left > 0 then return left end
redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
if redis.call('ZCARD', key) >= attempts then
  -- The window is full of attempts still being checked or already wrong: wait
  -- for the oldest to leave it. Only wrong flags start a lockout (settle).
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  return math.max(1000, math.ceil((tonumber(oldest) + window - now) * 1000))
end
redis.call('ZADD', key, now, ARGV[5])
redis.call('EXPIRE', key, window + 1)
return 0
"""

# After a wrong flag: lock out once the window holds `attempts` wrong ones.
_SETTLE_WRONG = """
local lock, key = KEYS[1], KEYS[2]
local now, window, attempts, lockout = tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
if redis.call('ZCARD', key) >= attempts then
  redis.call('SET', lock, 1, 'PX', lockout * 1000)
  redis.call('DEL', key)
  return lockout
end
return 0
"""


def attempt_reserve(
    principal_id: int, *, attempts: int, window: int, lockout: int
) -> tuple[str | None, int]:
    """Take a place in the principal's window: (token, 0), or (None, seconds left)."""
    token = uuid.uuid4().hex
    keys = [f"lock:{principal_id}", f"wrong:{principal_id}"]
    left_ms = _call(
        lambda r: r.eval(
            _RESERVE, 2, *keys, time.time(), window, attempts, lockout, token
        )
    )
    if left_ms:
        return None, max(1, -(-int(left_ms) // 1000))
    return token, 0


def attempt_settle_wrong(
    principal_id: int, *, attempts: int, window: int, lockout: int
) -> int:
    """The reserved attempt was wrong; returns the lockout now started (0 if none)."""
    keys = [f"lock:{principal_id}", f"wrong:{principal_id}"]
    return int(
        _call(
            lambda r: r.eval(
                _SETTLE_WRONG, 2, *keys, time.time(), window, attempts, lockout
            )
        )
    )


def attempt_release(principal_id: int, token: str) -> None:
    """Give back a reserved place (the attempt was refused before any comparison)."""
    _call(lambda r: r.zrem(f"wrong:{principal_id}", token))


def wrong_clear(principal_id: int) -> None:
    """Forget wrong attempts and any lockout (after a correct submission)."""
    _call(lambda r: r.delete(f"wrong:{principal_id}", f"lock:{principal_id}"))
