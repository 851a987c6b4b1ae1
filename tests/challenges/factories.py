"""Factories for the challenge page, access, API and rescan tests.

`make_challenge` writes rows directly (fast, for the board and access tests);
`write_spec` writes a real-world-shaped spec into a catalog folder (for rescan).
"""

from __future__ import annotations

import textwrap
from html.parser import HTMLParser
from itertools import count
from pathlib import Path

import pytest

from accounts.models import Team, User
from accounts.services import team_create
from challenges.board import Board
from challenges.catalog import normalize_name
from challenges.models import Challenge, Competition, Question
from scoring.models import Principal, Solve
from scoring.services import principal_resolve

_serial = count(1)


def make_challenge(
    name: str,
    *,
    category: str = "misc",
    value: int = 100,
    requirement: str = "",
    locked_visibility: str = "hidden",
    questions: tuple[str, ...] = ("main",),
    flags: list[dict] | None = None,
    identity: str | None = None,
    **fields,
) -> Challenge:
    """A visible challenge with one question per key (static flags by default)."""
    challenge = Challenge.objects.create(
        identity=identity
        or f"{category}/{name.lower().replace(' ', '-')}-{next(_serial)}",
        name=name,
        normalized_name=normalize_name(name),
        category=category,
        value=value,
        requirement=requirement,
        locked_visibility=locked_visibility,
        **fields,
    )
    for position, key in enumerate(questions):
        Question.objects.create(
            challenge=challenge,
            key=key,
            name=key,
            points=value,
            position=position,
            flags=flags
            or [{"kind": "static", "content": f"CTF{{{key}}}", "template": ""}],
        )
    return challenge


def default_competition() -> Competition:
    return Competition.objects.default()


def principal_of(user: User, competition: Competition | None = None) -> Principal:
    return principal_resolve(
        user=user, competition=competition or default_competition()
    )


def board_for(user: User, competition: Competition | None = None) -> Board:
    """The board `user` sees in `competition` (the default one unless given)."""
    competition = competition or default_competition()
    return Board(
        user, principal_resolve(user=user, competition=competition), competition
    )


def solve(principal: Principal, challenge: Challenge, *keys: str) -> None:
    """Record solves of the given questions (all of them when no key is given)."""
    questions = challenge.questions.all()
    if keys:
        questions = questions.filter(key__in=keys)
    for question in questions:
        Solve.objects.create(principal=principal, question=question)


def team_with_players(name: str, size: int = 1) -> Team:
    """A team of `size` fresh users; the first is the captain."""
    # No password: hashing one per user would dominate the test's runtime.
    users = [
        User.objects.create_user(username=f"{name.lower().replace(' ', '')}{i}")
        for i in range(size)
    ]
    team = team_create(user=users[0], name=name)
    for user in users[1:]:
        user.team = team
        user.save(update_fields=["team"])
    return team


def write_spec(root: Path, folder: str, text: str, files: dict | None = None) -> Path:
    """Write `folder/challenge.yml` (and handed-out files) under the catalog `root`."""
    target = root / folder
    target.mkdir(parents=True, exist_ok=True)
    for rel, content in (files or {}).items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    spec = target / "challenge.yml"
    spec.write_text(textwrap.dedent(text), encoding="utf-8")
    return spec


def spec(
    name: str,
    *,
    category: str = "misc",
    value: int = 100,
    flag: str = "",
    extra: str = "",
) -> str:
    """A small ctfcli spec; `extra` is appended as more YAML lines."""
    flag = flag or f"CTF{{{name.lower().replace(' ', '_')}}}"
    text = (
        f"name: {name}\n"
        f"author: alice\n"
        f"category: {category}\n"
        f"description: Solve {name}.\n"
        f"value: {value}\n"
        f"type: standard\n"
        f"flags:\n"
        f"  - {flag}\n"
    )
    return text + textwrap.dedent(extra)


@pytest.fixture
def fast_password_hashing(settings):
    """The personas' passwords hash with MD5 here: PBKDF2 would dominate runtime."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class _FormReader(HTMLParser):
    """The values a browser would submit from the page's main form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.data.setdefault(name, []).append(a.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data.setdefault(name, []).append("")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select].append(a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][-1] += data


def form_data(html: str) -> dict[str, list[str]]:
    """Read a rendered form back into POST data (admin change forms and the like)."""
    reader = _FormReader()
    reader.feed(html)
    data = reader.data
    for name, values in data.items():
        # A textarea's content starts after the newline that follows its tag.
        data[name] = [v[1:] if v.startswith("\n") else v for v in values]
    return data
