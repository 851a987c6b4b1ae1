"""The submission pipeline, in the order of ARCHITECTURE.md:

1. resolve the principal (refuse banned, out of window, locked challenges);
2. already solved? answer so without re-processing;
3. rate limit (Redis sliding window, shared by all processes) and the
   question's wrong-attempt cap since the latest reset;
4. expected flag (Redis -> TeamFlag -> derive);
5. constant-time comparison;
6. correct: Submission, Solve, ScoreEvent and the total in one transaction;
7. wrong: Submission, count the attempt, anti-cheat scan.

The flag form, the API and tests all call `submission_attempt`. With Redis up,
steps 1 (the ban), 2 and 3 and the look-ups of steps 4 and 7 are one Redis
script (`store.attempt_begin`), so a wrong flag costs that and one INSERT. With
Redis down every step reads the database instead.
"""

import contextlib
import hashlib
import hmac
import random
import re
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import EventType
from audit.services import record
from challenges.access import Access, RequirementContext, challenge_access
from challenges.models import Competition, Question
from scoring import anticheat, store
from scoring.decoys import decoy_hashes_of
from scoring.flags import expected_flag
from scoring.ledger import first_blood_bonus, ledger_write
from scoring.models import (
    AttemptReset,
    Principal,
    Result,
    ScoreReason,
    Solve,
    Submission,
)
from scoring.rows import insert
from scoring.scoreboard import standings_changed
from scoring.selectors import solved_question_ids
from scoring.services import principal_resolve
from scoring.tallies import principal_lock, tally_take

MAX_FLAG_BYTES = 1024
SCORE_TRIES = 3  # a correct flag's transaction, if the database aborts it
# PostgreSQL's deadlock_detected and serialization_failure.
RETRYABLE_SQLSTATES = {"40P01", "40001"}


class ChallengeHidden(Exception):
    """The player may not even know the challenge exists (answer as not found)."""


@dataclass
class Attempt:
    """What the player is told."""

    result: str
    message: str
    points: int = 0
    retry_after: int = 0
    first_blood: int = 0

    def to_dict(self) -> dict:
        data = {"result": self.result, "message": self.message, "points": self.points}
        if self.retry_after:
            data["retry_after"] = self.retry_after
        if self.first_blood:
            data["first_blood_bonus"] = self.first_blood
        return data


def _matches(flag: dict, typed: str, own: str | None) -> bool:
    """Compare in constant time (regex and case-insensitive forms normalise first)."""
    kind, content = flag.get("kind"), flag.get("content", "")
    if kind == "derived":
        return own is not None and hmac.compare_digest(typed.encode(), own.encode())
    if kind == "regex":
        try:
            return re.fullmatch(content, typed) is not None
        except re.error:
            return False
    if kind == "case_insensitive":
        return hmac.compare_digest(
            typed.casefold().encode(), content.casefold().encode()
        )
    return hmac.compare_digest(typed.encode(), content.encode())


def _wrong_since_reset(principal: Principal, question: Question) -> int:
    baseline = AttemptReset.objects.filter(
        principal=principal, question=question
    ).aggregate(at=Max("created_at"))["at"]
    wrong = Submission.objects.filter(
        principal=principal, question=question, result=Result.WRONG
    )
    if baseline:
        wrong = wrong.filter(created_at__gt=baseline)
    return wrong.count()


def _db_lock_remaining(principal: Principal, competition) -> int:
    """Seconds of lockout left by the Redis rule, replayed over the Submission table.

    Wrong attempts since the last correct one, in order: a sliding window of
    `window` seconds; the `attempts`-th in it starts a lockout and empties it.
    """
    window, lockout = competition.rate_limit_window, competition.rate_limit_lockout
    now = timezone.now()
    since = now - timedelta(seconds=3 * (window + lockout))
    last_correct = Submission.objects.filter(
        principal=principal, result=Result.CORRECT, created_at__gte=since
    ).aggregate(at=Max("created_at"))["at"]
    wrong = Submission.objects.filter(
        principal=principal, result=Result.WRONG, created_at__gte=last_correct or since
    )
    recent: list = []
    locked_until = None
    for at in wrong.order_by("created_at").values_list("created_at", flat=True):
        recent = [t for t in recent if (at - t).total_seconds() < window] + [at]
        if len(recent) >= competition.rate_limit_attempts:
            locked_until, recent = at + timedelta(seconds=lockout), []
    if locked_until is None or locked_until <= now:
        return 0
    return max(1, int((locked_until - now).total_seconds() + 0.999))


def submission_attempt(
    *,
    user,
    challenge,
    flag: str,
    question: Question | None = None,
    competition=None,
    principal: Principal | None = None,
    ip: str | None = None,
    user_agent: str = "",
    access: Access | None = None,
) -> Attempt:
    """Check one typed flag for `user` and score it; see the module docstring.

    `principal` may be given when the caller resolved it already; only its
    identity is used (its ban and score are read again here). `access` is the
    caller's `challenge_access` answer for this user, when it has one (the API
    checks first, to answer a locked challenge as its GET does).
    """
    if len(flag.encode()) > MAX_FLAG_BYTES:  # refused before hashing, not stored
        return Attempt(Result.REFUSED, "That is too long to be a flag (1 KB at most).")
    competition = competition or Competition.objects.default()
    typed = flag.strip()
    questions = list(challenge.questions.all())
    if question is None:
        if len(questions) != 1:
            return Attempt(Result.REFUSED, "Say which question this flag answers.")
        question = questions[0]
    elif question.challenge_id != challenge.pk:
        return Attempt(Result.REFUSED, "That question is not part of this challenge.")

    # 1. Principal, requirement, time window (the ban comes with step 3, in the
    # same Redis call). A challenge the player may not even see is not found.
    principal = principal or principal_resolve(user=user, competition=competition)
    locked = False
    if challenge.requirement and not user.is_staff:
        access = access or challenge_access(
            challenge, RequirementContext(user, principal)
        )
        if not access.is_listed:
            raise ChallengeHidden(challenge.pk)
        locked = not access.is_open
    if principal is None:
        return Attempt(Result.REFUSED, "Join a team to play in this competition.")
    meta = {
        "principal": principal,
        "user": user,
        "question": question,
        "flag_hash": hashlib.sha256(typed.encode()).hexdigest(),
        "ip": ip,
        "user_agent": user_agent[:300],
    }
    if locked:
        return _refuse(meta, "This challenge is locked.")
    if not competition.is_open():
        return _refuse(meta, "Submissions are closed: the competition is not running.")
    try:
        begin = _begin(principal, question, competition, meta)
    except store.StoreDown:
        # The database replays every step, one request per principal at a time.
        with transaction.atomic():
            principal_lock(principal.pk)
            return _db_attempt(principal, question, competition, meta, typed)
    if begin.state == "banned":
        return _refuse(meta, BANNED)
    if begin.state == "solved":
        return Attempt(Result.ALREADY_SOLVED, ALREADY_SOLVED)
    if begin.state == "limited":
        return _rate_limited(meta, competition, begin.retry_after)
    return _check(principal, question, competition, meta, typed, begin=begin)


BANNED = "Your team is banned from this competition."
ALREADY_SOLVED = "You already solved this."


def _submit(meta: dict, **result) -> Submission:
    """Record the attempt: one INSERT (`scoring.rows`); the row, for the record."""
    submission = Submission(**meta, **result)
    submission.pk = insert(
        Submission,
        returning=True,
        **{
            f.attname: getattr(submission, f.attname)
            for f in Submission._meta.concrete_fields
            if not f.primary_key
        },
    )
    return submission


def _refuse(meta: dict, message: str) -> Attempt:
    _submit(meta, result=Result.REFUSED, reason=message[:200])
    return Attempt(Result.REFUSED, message)


def _begin(principal: Principal, question: Question, competition, meta) -> store.Begin:
    """Steps 1-3 in Redis, loading the copies it lacks from the database once."""
    for _ in range(2):
        begin = store.attempt_begin(
            principal_id=principal.pk,
            question_id=question.pk,
            competition_id=competition.pk,
            value_hash=meta["flag_hash"],
            attempts=competition.rate_limit_attempts,
            window=competition.rate_limit_window,
            lockout=competition.rate_limit_lockout,
        )
        if begin.state != "missing":
            return begin
        banned = solved = decoys = None
        if "banned" in begin.missing:
            banned = Principal.objects.filter(pk=principal.pk).values_list(
                "is_banned", flat=True
            )[0]
        if "solved" in begin.missing:
            solved = sorted(solved_question_ids(principal))
        if "decoys" in begin.missing:
            decoys = decoy_hashes_of(competition)
        store.copies_put(
            principal_id=principal.pk,
            competition_id=competition.pk,
            generations=begin.generations,
            banned=banned,
            solved=solved,
            decoys=decoys,
        )
    raise store.StoreDown("the read-through copies did not stay loaded")


def _db_attempt(principal, question, competition, meta, typed) -> Attempt:
    """Steps 1-7 from the database alone (Redis is down)."""
    principal.refresh_from_db(fields=["is_banned"])
    if principal.is_banned:
        return _refuse(meta, BANNED)
    if Solve.objects.filter(principal=principal, question=question).exists():
        return Attempt(Result.ALREADY_SOLVED, ALREADY_SOLVED)
    left = _db_lock_remaining(principal, competition)
    if left:
        return _rate_limited(meta, competition, left)
    return _check(principal, question, competition, meta, typed, begin=None)


def _lockout(meta: dict, competition, left: int) -> str:
    """The lockout covers the principal and every challenge: say so."""
    who = "Your team" if meta["principal"].kind == "team" else "You"
    return (
        f"{who} submitted {competition.rate_limit_attempts} wrong flags in "
        f"{competition.rate_limit_window} s; submissions are paused for {left} s."
    )


def _rate_limited(meta: dict, competition, left: int) -> Attempt:
    _submit(meta, result=Result.RATE_LIMITED)
    return Attempt(
        Result.RATE_LIMITED, _lockout(meta, competition, left), retry_after=left
    )


def _check(
    principal: Principal,
    question: Question,
    competition,
    meta: dict,
    typed: str,
    *,
    begin: store.Begin | None,
) -> Attempt:
    """The question's cap, then 4-5: expected flag and constant-time comparison.

    `begin` is what Redis answered (None when the database stands in for it).
    """
    if question.attempts and (
        _wrong_since_reset(principal, question) >= question.attempts
    ):
        _submit(meta, result=Result.REFUSED, reason="attempt cap")
        if begin:
            with contextlib.suppress(store.StoreDown):
                store.attempt_release(principal.pk, begin.token)
        return Attempt(
            Result.REFUSED,
            f"No attempts left for this question ({question.attempts} used).",
        )
    own = None
    if any(f.get("kind") == "derived" for f in question.flags):
        own = (begin and begin.own_flag) or expected_flag(principal, question)
    if any(_matches(f, typed, own) for f in question.flags):
        return _score(principal, question, competition, meta)
    return _wrong(principal, question, competition, meta, begin=begin)


def _score(principal: Principal, question: Question, competition, meta) -> Attempt:
    """6. Correct: one transaction, retried if the database still aborts it."""
    for attempt in range(1, SCORE_TRIES + 1):
        try:
            with transaction.atomic():
                answer = _score_once(principal, question, competition, meta)
        except IntegrityError:  # a teammate's copy of the same flag won the race
            answer = Attempt(Result.ALREADY_SOLVED, ALREADY_SOLVED)
        except OperationalError as error:
            # The lock order (`scoring.tallies`) rules deadlocks out; whatever
            # the database aborts anyway is not the player's failure.
            if attempt == SCORE_TRIES or not _retryable(error):
                raise
            time.sleep(random.uniform(0, 0.01 * attempt))
            continue
        if answer.result != Result.REFUSED:
            # The flag was right either way: clear the window, this attempt's
            # place in it and the solved copy.
            with contextlib.suppress(store.StoreDown):
                store.solved_clear(principal.pk)
        return answer
    raise AssertionError("unreachable")


def _retryable(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def _score_once(principal: Principal, question: Question, competition, meta) -> Attempt:
    """Lock the principal, then the question's tally (the one order, see
    `scoring.tallies`); write the solve, its submission, its ledger events and
    the audit record. Nothing is written for the earlier solvers."""
    # The ban is read again under the lock: the caller's copy may be older.
    banned, hidden = principal_lock(principal.pk)
    if banned:
        return _refuse(meta, BANNED)
    taken = tally_take(
        competition_id=competition.pk, question=question, public=not hidden
    )
    value = taken.value
    solve_id = insert(
        Solve,
        returning=True,
        principal_id=principal.pk,
        question_id=question.pk,
        user_id=meta["user"].pk,
        points=value,
        created_at=taken.at,
    )
    _submit(meta, result=Result.CORRECT, points=value, created_at=taken.at)
    bonus = first_blood_bonus(competition=competition, rank=taken.rank, value=value)
    ledger_write(
        principal_id=principal.pk,
        delta=value,
        reason=ScoreReason.SOLVE,
        question=question,
        solved_at=taken.at,
        bonus=bonus,
    )
    standings_changed(competition.pk)
    record(
        EventType.CHALLENGE_SOLVED,
        actor=meta["user"],
        principal=principal,
        team=principal.team_id,
        subject=str(principal),
        ip=meta["ip"],
        details={
            "challenge": question.challenge_id,
            "question": question.pk,
            "points": value,
            "first_blood_bonus": bonus,
            "solve": solve_id,
        },
    )
    message = (
        f"Correct! +{value} points"
        + (f" and a first-blood bonus of {bonus}" if bonus else "")
        + "."
    )
    return Attempt(Result.CORRECT, message, points=value, first_blood=bonus)


def _wrong(
    principal: Principal,
    question: Question,
    competition,
    meta: dict,
    *,
    begin: store.Begin | None,
) -> Attempt:
    """7. Wrong: record, count toward the lockout, then look for cheating."""
    submission = _submit(meta, result=Result.WRONG)
    if begin:
        lockout = begin.lockout  # Redis counted it as wrong when it was reserved
    else:
        lockout = _db_lock_remaining(principal, competition)
    anticheat.scan(submission=submission, competition=competition, found=begin)
    message = "Wrong flag."
    if lockout:
        message += " " + _lockout(meta, competition, lockout)
    return Attempt(Result.WRONG, message, retry_after=lockout)
