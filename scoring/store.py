"""The Redis side of scoring: the one module that knows its key layout.

    team_flags:<principal>   hash  question id -> the principal's current flag
    flag_owner:<sha256>      str   "<principal>:<question>:<current|rotated>"
    flag_index:ready         str   set once every TeamFlag is in the two above
    wrong:<principal>        zset  attempts in the sliding window (reserved before
                                   the comparison, kept when wrong)
    lock:<principal>         str   the token of the attempt that started the
                                   lockout; expires with it
    banned:<principal>       str   "1" or "0": a copy of Principal.is_banned
    solved:<principal>       set   ids of the questions it solved, and "-"
    decoys:<competition>     hash  SHA-256 -> decoy id, and "-" -> 0

The last three are read-through copies of the database: absent means "not
loaded", never "none"; writers delete them after their commit.

Every function raises `StoreDown` when Redis is not configured or does not
answer; callers then use the database (TeamFlag, Submission), so scoring keeps
working with Redis stopped.
"""

import time
import uuid
from dataclasses import dataclass

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
    if raw is None and ready is None:
        raise StoreDown("the flag index is not loaded")
    return _owner(raw)


def index_mark_ready() -> None:
    """Say that every TeamFlag row is now in Redis."""
    _call(lambda r: r.set(READY, 1))


COPY_SECONDS = 3600  # read-through copies expire: a missed delete heals itself

# Steps 1-4 of an attempt in one round trip: the principal's ban, the solved
# question, the lockout and the window (a place is taken in it atomically, so
# parallel requests cannot all pass the check before any of them is counted),
# and what the comparison and the anti-cheat scan need.
_BEGIN = """
local banned, solved, lock, window_key, flags, owner, ready, decoys =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local now, window, attempts, lockout = tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), tonumber(ARGV[4])
local question, value_hash, token = ARGV[5], ARGV[6], ARGV[7]
local is_banned = redis.call('GET', banned)
local missing = {}
if not is_banned then missing[#missing + 1] = 'banned' end
if redis.call('EXISTS', solved) == 0 then missing[#missing + 1] = 'solved' end
if redis.call('EXISTS', decoys) == 0 then missing[#missing + 1] = 'decoys' end
if #missing > 0 then return {'missing', table.concat(missing, ',')} end
if is_banned == '1' then return {'banned'} end
if redis.call('SISMEMBER', solved, question) == 1 then return {'solved'} end
local left = redis.call('PTTL', lock)
if left > 0 then return {'limited', left} end
redis.call('ZREMRANGEBYSCORE', window_key, 0, now - window)
if redis.call('ZCARD', window_key) >= attempts then
  -- The window is full of attempts still being checked or already wrong: wait
  -- for the oldest to leave it. Only wrong flags start a lockout (settle).
  local oldest = tonumber(redis.call('ZRANGE', window_key, 0, 0, 'WITHSCORES')[2])
  return {'limited', math.max(1000, math.ceil((oldest + window - now) * 1000))}
end
redis.call('ZADD', window_key, now, token)
redis.call('EXPIRE', window_key, window + 1)
-- The attempt counts as wrong until it proves correct (solved_clear) or is given
-- back (attempt_release), so the lockout it completes starts here, with no
-- second round trip after the comparison.
local locks = 0
if redis.call('ZCARD', window_key) >= attempts then
  redis.call('SET', lock, token, 'PX', lockout * 1000)
  redis.call('DEL', window_key)
  locks = lockout
end
return {'ok', locks, redis.call('HGET', flags, question), redis.call('GET', owner),
        redis.call('GET', ready), redis.call('HGET', decoys, value_hash)}
"""


@dataclass(frozen=True)
class Begin:
    """What `attempt_begin` found; `state` is ok, banned, solved, limited or missing."""

    state: str
    token: str | None = None
    retry_after: int = 0
    lockout: int = 0  # seconds of lockout this attempt starts if it is wrong
    missing: tuple[str, ...] = ()
    own_flag: str | None = None
    owner: tuple[int, int, str] | None = None
    owner_known: bool = False  # False: the flag index is not loaded
    decoy_id: int | None = None


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _owner(raw) -> tuple[int, int, str] | None:
    if raw is None:
        return None
    principal_id, question_id, status = _text(raw).split(":")
    return int(principal_id), int(question_id), status


def attempt_begin(
    *,
    principal_id: int,
    question_id: int,
    competition_id: int,
    value_hash: str,
    attempts: int,
    window: int,
    lockout: int,
) -> Begin:
    """Check ban, solve and rate limit and take a place in the window, in one step.

    State "missing" names the copies to load (`banned_put`, `solved_put`,
    `decoys_put`) before trying again; "ok" carries the reserved place's token,
    the lockout it starts unless it proves correct, the principal's own flag,
    the owner of `value_hash` and the decoy it is.
    """
    token = uuid.uuid4().hex
    keys = [
        f"banned:{principal_id}",
        f"solved:{principal_id}",
        f"lock:{principal_id}",
        f"wrong:{principal_id}",
        f"team_flags:{principal_id}",
        f"flag_owner:{value_hash}",
        READY,
        f"decoys:{competition_id}",
    ]
    args = [time.time(), window, attempts, lockout, question_id, value_hash, token]
    reply = _call(lambda r: r.eval(_BEGIN, len(keys), *keys, *args))
    state = _text(reply[0])
    if state == "missing":
        return Begin(state, missing=tuple(_text(reply[1]).split(",")))
    if state == "limited":
        return Begin(state, retry_after=max(1, -(-int(reply[1]) // 1000)))
    if state != "ok":
        return Begin(state)
    locks, own, owner, ready, decoy = (list(reply[1:]) + [None] * 5)[:5]
    return Begin(
        state,
        token=token,
        lockout=int(locks),
        own_flag=_text(own),
        owner=_owner(owner),
        owner_known=ready is not None,
        decoy_id=int(decoy) if decoy is not None else None,
    )


def banned_put(principal_id: int, banned: bool) -> None:
    _call(lambda r: r.set(f"banned:{principal_id}", int(banned), ex=COPY_SECONDS))


def solved_put(principal_id: int, question_ids) -> None:
    key = f"solved:{principal_id}"

    def write(r):
        pipe = r.pipeline()  # MULTI: readers never see a half-loaded set
        pipe.delete(key)
        pipe.sadd(key, "-", *question_ids)
        pipe.expire(key, COPY_SECONDS)
        pipe.execute()

    _call(write)


def decoys_put(competition_id: int, decoys: dict[str, int]) -> None:
    key = f"decoys:{competition_id}"

    def write(r):
        pipe = r.pipeline()
        pipe.delete(key)
        pipe.hset(key, mapping={"-": 0, **decoys})
        pipe.expire(key, COPY_SECONDS)
        pipe.execute()

    _call(write)


def copies_forget(*, principal_id: int | None = None, competition_id=None) -> None:
    """Drop the read-through copies of a principal's ban and solves, or of a
    competition's decoys, after the database changed them."""
    keys = []
    if principal_id is not None:
        keys += [f"banned:{principal_id}", f"solved:{principal_id}"]
    if competition_id is not None:
        keys.append(f"decoys:{competition_id}")
    _call(lambda r: r.delete(*keys))


_RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


def attempt_release(principal_id: int, token: str) -> None:
    """Give back a reserved place, and the lockout it started (the attempt was
    refused before any comparison)."""
    keys = [f"lock:{principal_id}", f"wrong:{principal_id}"]
    _call(lambda r: r.eval(_RELEASE, 2, *keys, token))


def solved_clear(principal_id: int) -> None:
    """After a correct submission: forget the wrong attempts, any lockout and the
    copy of the solved set."""
    keys = [f"wrong:{principal_id}", f"lock:{principal_id}", f"solved:{principal_id}"]
    _call(lambda r: r.delete(*keys))
