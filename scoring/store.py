"""The Redis side of scoring: the one module that knows its key layout.

    team_flags:<principal>   hash  question id -> the principal's current flag
    flag_owner:<sha256>      str   "<principal>:<question>:<current|rotated>"
    flag_index:ready         str   set once every TeamFlag is in the two above
    flag_index:synced        str   epoch: every TeamFlag change before it is in
                                   Redis (flags_repair copies the later ones)
    wrong:<principal>        zset  attempts in the sliding window (reserved before
                                   the comparison, kept when wrong)
    wrong_held:<principal>   zset  the window that started the lockout
    lock:<principal>         str   the token of the attempt that started the
                                   lockout; expires with it
    banned:<principal>       str   "1" or "0": a copy of Principal.is_banned
    solved:<principal>       set   ids of the questions it solved, and "-"
    decoys:<competition>     hash  SHA-256 -> decoy id, and "-" -> 0

    copies_gen:p:<principal> int   bumped with every change to the two above
    copies_gen:c:<competition> int bumped with every change to the decoys

The three copies are read-through: absent means "not loaded", never "none";
writers bump the generation and delete them before and after their commit.

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
SYNCED = "flag_index:synced"


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


_scripts: dict[str, object] = {}


def _run(r, script: str, keys: list, args: list):
    """Run a Lua script by its SHA (loaded again if Redis restarted empty)."""
    compiled = _scripts.get(script)
    if compiled is None:
        compiled = _scripts[script] = r.register_script(script)
    return compiled(keys=keys, args=args, client=r)


def flag_get(principal_id: int, question_id: int) -> str | None:
    """The principal's current flag for the question, if Redis has it."""
    return _text(_call(lambda r: r.hget(f"team_flags:{principal_id}", question_id)))


def flags_put(
    entries: list[tuple[int, int, str, str, str]], *, dynamic: set[int] = frozenset()
) -> None:
    """Store (principal, question, value, value_hash, status) rows and their owners.

    Flags of the `dynamic` questions (issued per instance) get an owner entry
    but stay out of `team_flags`: the attempt reads those from the table.
    """

    def write(r):
        pipe = r.pipeline(transaction=False)
        for principal_id, question_id, value, value_hash, status in entries:
            if question_id in dynamic:
                pipe.hdel(f"team_flags:{principal_id}", question_id)
            elif status == "current":
                pipe.hset(f"team_flags:{principal_id}", question_id, value)
            pipe.set(
                f"flag_owner:{value_hash}", f"{principal_id}:{question_id}:{status}"
            )
        pipe.execute()

    if entries:
        _call(write)


def synced_get() -> float | None:
    """The moment before which every TeamFlag change is in Redis, if known."""
    raw = _text(_call(lambda r: r.get(SYNCED)))
    return float(raw) if raw is not None else None


def synced_set(moment: float) -> None:
    _call(lambda r: r.set(SYNCED, repr(moment)))


def index_ready() -> bool:
    return bool(_call(lambda r: r.exists(READY)))


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


COPY_SECONDS = 900  # read-through copies expire: a delete lost to an outage heals

# Steps 1-4 of an attempt in one round trip: the principal's ban, the solved
# question, the lockout and the window (a place is taken in it atomically, so
# parallel requests cannot all pass the check before any of them is counted),
# and what the comparison and the anti-cheat scan need.
_BEGIN = """
local banned, solved, lock, window_key, flags, owner, ready, decoys, gen_p, gen_c,
    held = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8],
    KEYS[9], KEYS[10], KEYS[11]
local now, window, attempts, lockout = tonumber(ARGV[1]), tonumber(ARGV[2]),
    tonumber(ARGV[3]), tonumber(ARGV[4])
local question, value_hash, token = ARGV[5], ARGV[6], ARGV[7]
local is_banned = redis.call('GET', banned)
local missing = {}
if not is_banned then missing[#missing + 1] = 'banned' end
if redis.call('EXISTS', solved) == 0 then missing[#missing + 1] = 'solved' end
if redis.call('EXISTS', decoys) == 0 then missing[#missing + 1] = 'decoys' end
if #missing > 0 then
  -- The generations let the loader refuse to store what a writer changed since.
  return {'missing', table.concat(missing, ','), redis.call('GET', gen_p) or '0',
          redis.call('GET', gen_c) or '0'}
end
if is_banned == '1' then return {'banned'} end
if redis.call('SISMEMBER', solved, question) == 1 then return {'solved'} end
local left = redis.call('PTTL', lock)
if left > 0 then return {'limited', left} end
redis.call('ZREMRANGEBYSCORE', window_key, 0, now - window)
if redis.call('ZCARD', window_key) >= attempts then
  -- The window is full of attempts still being checked: wait for the oldest.
  local oldest = tonumber(redis.call('ZRANGE', window_key, 0, 0, 'WITHSCORES')[2])
  return {'limited', math.max(1000, math.ceil((oldest + window - now) * 1000))}
end
redis.call('ZADD', window_key, now, token)
redis.call('EXPIRE', window_key, window + 1)
-- The attempt counts as wrong until it proves correct (solved_clear) or is given
-- back (attempt_release), so the lockout it completes starts here, with no
-- second round trip after the comparison. The full window is held aside, not
-- dropped, so a release can put it back; after the lockout it is gone.
local locks = 0
if redis.call('ZCARD', window_key) >= attempts then
  redis.call('SET', lock, token, 'PX', lockout * 1000)
  redis.call('RENAME', window_key, held)
  redis.call('PEXPIRE', held, lockout * 1000)
  locks = lockout
end
return {'ok', locks, redis.call('HGET', flags, question), redis.call('GET', owner),
        redis.call('GET', ready), redis.call('HGET', decoys, value_hash)}
"""


def _principal_keys(principal_id: int) -> dict[str, str]:
    return {
        "banned": f"banned:{principal_id}",
        "solved": f"solved:{principal_id}",
        "lock": f"lock:{principal_id}",
        "window": f"wrong:{principal_id}",
        "held": f"wrong_held:{principal_id}",
        "gen": f"copies_gen:p:{principal_id}",
    }


@dataclass(frozen=True)
class Begin:
    """What `attempt_begin` found; `state` is ok, banned, solved, limited or missing."""

    state: str
    token: str | None = None
    retry_after: int = 0
    lockout: int = 0  # seconds of lockout this attempt starts if it is wrong
    missing: tuple[str, ...] = ()
    generations: tuple[str, str] = ("0", "0")  # of the copies, when missing
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

    State "missing" names the copies to load (`copies_put`) before trying
    again; "ok" carries the reserved place's token, the lockout it starts unless
    it proves correct, the principal's own flag, the owner of `value_hash` and
    the decoy it is.
    """
    token = uuid.uuid4().hex
    k = _principal_keys(principal_id)
    keys = [
        k["banned"],
        k["solved"],
        k["lock"],
        k["window"],
        f"team_flags:{principal_id}",
        f"flag_owner:{value_hash}",
        READY,
        f"decoys:{competition_id}",
        k["gen"],
        f"copies_gen:c:{competition_id}",
        k["held"],
    ]
    args = [time.time(), window, attempts, lockout, question_id, value_hash, token]
    reply = _call(lambda r: _run(r, _BEGIN, keys, args))
    state = _text(reply[0])
    if state == "missing":
        return Begin(
            state,
            missing=tuple(_text(reply[1]).split(",")),
            generations=(_text(reply[2]), _text(reply[3])),
        )
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


# Store the copies read from the database, unless a writer changed the principal
# (or the competition's decoys) since `attempt_begin` read the generations.
_PUT = """
local gen_p, gen_c, banned, solved, decoys = KEYS[1], KEYS[2], KEYS[3], KEYS[4],
    KEYS[5]
local ttl = tonumber(ARGV[3])
local n = tonumber(ARGV[5])
if (redis.call('GET', gen_p) or '0') == ARGV[1] then
  if ARGV[4] ~= '' then redis.call('SET', banned, ARGV[4], 'EX', ttl) end
  if n >= 0 then
    redis.call('DEL', solved)
    redis.call('SADD', solved, '-', unpack(ARGV, 6, 5 + n))
    redis.call('EXPIRE', solved, ttl)
  end
end
local at = 6 + math.max(n, 0)
local m = tonumber(ARGV[at])
if m >= 0 and (redis.call('GET', gen_c) or '0') == ARGV[2] then
  redis.call('DEL', decoys)
  redis.call('HSET', decoys, '-', 0, unpack(ARGV, at + 1, at + 2 * m))
  redis.call('EXPIRE', decoys, ttl)
end
"""


def copies_put(
    *,
    principal_id: int,
    competition_id: int,
    generations: tuple[str, str],
    banned: bool | None = None,
    solved: list[int] | None = None,
    decoys: dict[str, int] | None = None,
) -> None:
    """Store copies of a principal's ban and solved questions and of a
    competition's decoys, as `attempt_begin` asked for them."""
    k = _principal_keys(principal_id)
    keys = [k["gen"], f"copies_gen:c:{competition_id}", k["banned"], k["solved"]]
    keys.append(f"decoys:{competition_id}")
    args = [*generations, COPY_SECONDS, "" if banned is None else int(banned)]
    args += [-1] if solved is None else [len(solved), *solved]
    if decoys is None:
        args.append(-1)
    else:
        args.append(len(decoys))
        for value_hash, decoy_id in decoys.items():
            args += [value_hash, decoy_id]
    _call(lambda r: _run(r, _PUT, keys, args))


def copies_forget(*, principal_id: int | None = None, competition_id=None) -> None:
    """Drop the copies of a principal's ban and solves, or of a competition's
    decoys, after the database changed them; loads already under way will not
    store what they read."""

    def forget(r):
        pipe = r.pipeline()
        if principal_id is not None:
            k = _principal_keys(principal_id)
            pipe.incr(k["gen"])
            pipe.delete(k["banned"], k["solved"])
        if competition_id is not None:
            pipe.incr(f"copies_gen:c:{competition_id}")
            pipe.delete(f"decoys:{competition_id}")
        pipe.execute()

    _call(forget)


_RELEASE = """
local lock, window_key, held = KEYS[1], KEYS[2], KEYS[3]
if redis.call('GET', lock) == ARGV[1] then
  redis.call('DEL', lock)
  if redis.call('EXISTS', held) == 1 then redis.call('RENAME', held, window_key) end
end
redis.call('ZREM', window_key, ARGV[1])
"""


def attempt_release(principal_id: int, token: str) -> None:
    """Give back a reserved place, and the lockout it started with the window
    it held aside (the attempt was refused before any comparison)."""
    k = _principal_keys(principal_id)
    keys = [k["lock"], k["window"], k["held"]]
    _call(lambda r: _run(r, _RELEASE, keys, [token]))


def solved_clear(principal_id: int) -> None:
    """After a correct submission: forget the wrong attempts, any lockout and the
    copy of the solved set."""
    k = _principal_keys(principal_id)

    def clear(r):
        pipe = r.pipeline()
        pipe.incr(k["gen"])
        pipe.delete(k["window"], k["lock"], k["held"], k["solved"])
        pipe.execute()

    _call(clear)
