"""Factories for the scoring tests: challenges with their questions, players,
and a short way to submit a flag."""

from __future__ import annotations

from itertools import count

from accounts.models import User
from accounts.services import team_create
from challenges.catalog import normalize_name
from challenges.models import Challenge, Competition, Hint, Question
from scoring.derivation import derive_flag
from scoring.models import Principal
from scoring.pipeline import Attempt, submission_attempt
from scoring.services import principal_resolve

_serial = count(1)


def static(content: str) -> dict:
    return {"kind": "static", "content": content, "template": ""}


def derived(template: str) -> dict:
    return {"kind": "derived", "content": "", "template": template}


def make_challenge(
    name: str | None = None,
    *,
    flags: list[dict] | None = None,
    value: int = 100,
    questions: tuple[str, ...] = ("main",),
    attempts: int = 0,
    **fields,
) -> Challenge:
    """A visible challenge with one question per key (a static flag by default)."""
    n = next(_serial)
    name = name or f"Challenge {n}"
    challenge = Challenge.objects.create(
        identity=f"{fields.get('category', 'misc')}/c{n}",
        name=name,
        normalized_name=normalize_name(name),
        value=value,
        **fields,
    )
    for position, key in enumerate(questions):
        Question.objects.create(
            challenge=challenge,
            key=key,
            name=key,
            points=value,
            attempts=attempts,
            position=position,
            flags=flags or [static(f"CTF{{{name.lower().replace(' ', '_')}_{key}}}")],
        )
    return challenge


def make_dynamic(
    name: str | None = None,
    *,
    initial: int = 500,
    decay: int = 2,
    minimum: int = 100,
    function: str = "logarithmic",
    **fields,
) -> Challenge:
    """A dynamic challenge whose value decays with its public solves."""
    return make_challenge(
        name,
        value=initial,
        type="dynamic",
        decay_initial=initial,
        decay_decay=decay,
        decay_minimum=minimum,
        decay_function=function,
        **fields,
    )


def make_hint(challenge: Challenge, cost: int) -> Hint:
    return Hint.objects.create(challenge=challenge, content="Look closer.", cost=cost)


def question_of(challenge: Challenge, key: str = "main") -> Question:
    return challenge.questions.get(key=key)


def flag_of(challenge: Challenge, key: str = "main") -> str:
    """The static flag of a challenge's question."""
    return question_of(challenge, key).flags[0]["content"]


def player(name: str, *, team: bool = True) -> User:
    """A fresh user, captain of a new team of the same name unless `team` is False."""
    user = User.objects.create_user(username=name, email=f"{name}@example.org")
    if team:
        team_create(user=user, name=f"Team {name}")
        user.refresh_from_db()
    return user


def principal_of(user: User, competition: Competition | None = None) -> Principal:
    return principal_resolve(
        user=user, competition=competition or Competition.objects.default()
    )


def own_flag(principal: Principal, question: Question) -> str:
    """The derived flag the platform expects from `principal` for `question`."""
    template = next(f["template"] for f in question.flags if f["kind"] == "derived")
    return derive_flag(
        template,
        competition_id=principal.competition_id,
        principal_id=principal.pk,
        question_id=question.pk,
    )


def attempt(user: User, challenge: Challenge, flag: str, **extra) -> Attempt:
    """Submit `flag` for `challenge` as `user` through the pipeline."""
    return submission_attempt(user=user, challenge=challenge, flag=flag, **extra)
