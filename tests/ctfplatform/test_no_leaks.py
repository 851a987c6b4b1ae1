"""Every route a player can reach, walked as a player who may not see a hidden
and a locked challenge: no body names them or shows their description.

The routes come from the URLconf, so a route added later is walked too. A route
that takes a parameter the walker cannot fill fails the test with its name: add
the parameter to FILL (a challenge id, file id or hint id there gets the hidden
and the locked challenge's own). Staff-only trees (the admin) are left out.
"""

import re
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.services import token_create
from challenges.access import catalog_version_forget
from challenges.models import Challenge
from challenges.services import catalog_rescan
from scoring.models import Principal
from tests.challenges.factories import (
    fast_password_hashing,  # noqa: F401  (fixture)
    principal_of,
    solve,
    team_with_players,
    write_spec,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

STAFF_ONLY = ("admin/", "admin-tools/")

OPEN = """\
name: Warmup
category: misc
description: Say hi.
value: 50
type: standard
flags: ["CTF{hi}"]
files: [hello.txt]
hints: [Just say it.]
next: Hidden Gem
"""

HIDDEN = """\
name: Hidden Gem
author: Zelda Quarry
category: cryptids
description: The TOPAZ description nobody may read yet.
value: 300
type: standard
flags: ["CTF{gem}"]
files: [gem-map.txt]
hints: [Dig under the GRANITE.]
requirements: [Warmup]
locked_visibility: hidden
"""

LOCKED = """\
name: Locked Vault
author: Zelda Quarry
category: cryptids
description: The OBSIDIAN description behind the lock.
type: standard
questions:
  - {key: door, name: Door, points: 100, flags: ["CTF{door}"]}
  - {key: safe, name: Safe, points: 200, flags: ["CTF{safe}"]}
files: [vault-plan.txt]
hints: [Turn the BASALT dial.]
requirements: (AND (COMPLETED "Warmup") (COMPLETED "Hidden Gem"))
locked_visibility: locked
"""

# What the player must not learn, from any page, API answer or file.
SECRETS = [
    "Hidden Gem",
    "TOPAZ",
    "Locked Vault",
    "OBSIDIAN",
    "cryptids",
    "Zelda Quarry",
    "gem-map",
    "vault-plan",
    "GRANITE",
    "BASALT",
    "Door",
    "Safe",
]


@dataclass
class World:
    player: object
    rival: Principal
    own: Principal
    challenges: list[Challenge]


@pytest.fixture
def world(tmp_path, settings, solo):
    root = tmp_path / "catalog"
    write_spec(root, "misc/warmup", OPEN, files={"hello.txt": "hello\n"})
    write_spec(root, "misc/gem", HIDDEN, files={"gem-map.txt": "X marks\n"})
    write_spec(root, "misc/vault", LOCKED, files={"vault-plan.txt": "plan\n"})
    settings.CATALOG_DIR = root
    report = catalog_rescan(catalog=root)
    assert report.rejected == [] and report.warnings == []
    challenges = list(Challenge.objects.order_by("pk"))
    rivals = team_with_players("Rivals", size=2)
    rival = principal_of(rivals.captain)
    for challenge in challenges:
        solve(rival, challenge)  # their pages list every solve
    return World(solo, rival, principal_of(solo), challenges)


# How to fill each route parameter: challenge-scoped ones come in sets, one per
# challenge (the hidden, the locked and the open one).
def _challenge_sets(world: World) -> list[dict]:
    return [
        {
            "challenge_id": c.pk,
            "file_id": c.files.first().pk,
            "hint_id": c.hints.first().pk,
            "question_id": c.questions.first().pk,
        }
        for c in world.challenges
    ]


FILL = {
    "challenge_id": _challenge_sets,
    "file_id": _challenge_sets,
    "hint_id": _challenge_sets,
    "question_id": _challenge_sets,
    "competition_id": lambda w: [{"competition_id": w.own.competition_id}],
    "team_id": lambda w: [{"team_id": w.rival.team_id}],
    "principal_id": lambda w: [
        {"principal_id": w.rival.pk},
        {"principal_id": w.own.pk},
    ],
    "user_id": lambda w: [{"user_id": w.rival.team.captain_id}],
    # Organizer routes of nodes: a player is refused whatever the id.
    "task_id": lambda w: [{"task_id": 1}],
    "node_id": lambda w: [{"node_id": 1}],
    "instance_id": lambda w: [{"instance_id": 1}],
    # A password-reset link names no challenge; any link reaches its page.
    "uidb64": lambda w: [{"uidb64": "MQ"}],
    "token": lambda w: [{"token": "set-password"}],
}

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def routes(patterns=None, prefix: str = ""):
    """(path template, parameter names) of every route in the URLconf."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        part = str(entry.pattern).lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern):
            template = prefix + part
            names = [a or b for a, b in _PARAM.findall(template)]
            yield template, names


def _filled(template: str, values: dict) -> str:
    return _PARAM.sub(lambda m: str(values[m[1] or m[2]]), template)


def paths(world: World) -> list[str]:
    """Every player-facing route with its parameters filled."""
    found, unknown = [], []
    for template, names in routes():
        if template.startswith(STAFF_ONLY):
            continue
        missing = [n for n in names if n not in FILL]
        if missing:
            unknown.append(f"/{template} takes {', '.join(missing)}")
            continue
        fillers = {FILL[n] for n in names}
        sets = [{}]
        for filler in fillers:
            sets = [{**done, **more} for done in sets for more in filler(world)]
        found.extend("/" + _filled(template, values) for values in sets)
    assert not unknown, (
        "routes whose parameters the leak walker cannot fill; add them to FILL: "
        + "; ".join(unknown)
    )
    return sorted(set(found))


def requests(world: World, path: str, user):
    """The ways a player reaches `path`: page and htmx GET, a form POST, and
    the API with a token as scripts do."""
    questions = [q.pk for c in world.challenges for q in c.questions.all()]
    form = {
        "flag": "CTF{guess}",
        "question": questions[-1],
        "vote": "1",
        "comment": "x",
    }
    yield "GET", path, {}, {}
    yield "GET", path, {"q": "gem", "category": "cryptids"}, {"HTTP_HX_REQUEST": "true"}
    yield "POST", path, form, {}
    if path.startswith("/api/") and user is not None:
        _, raw = token_create(user=world.player)
        token = {"HTTP_AUTHORIZATION": f"Token {raw}"}
        yield "GET", path, {}, token
        yield "POST", path, {"flag": "CTF{guess}"}, token


def fetch(user, method: str, path: str, data: dict, headers: dict):
    """One request, its writes rolled back so every request meets the same world."""
    client = Client()
    if user is not None and "HTTP_AUTHORIZATION" not in headers:
        client.force_login(user)
    with transaction.atomic():
        if method == "GET":
            response = client.get(path, data, **headers)
        else:
            response = client.post(path, data, **headers)
        body = b"".join(response) if response.streaming else response.content
        transaction.set_rollback(True)
    cache.clear()  # nothing a rolled-back request cached may outlive it
    catalog_version_forget()
    return response, body.decode("utf-8", "replace")


@pytest.mark.parametrize("viewer", ["player", "anonymous"])
def test_no_route_shows_a_challenge_the_viewer_may_not_see(world, viewer):
    user = world.player if viewer == "player" else None
    walked, leaks, crashes = 0, [], []

    for path in paths(world):
        for method, url, data, headers in requests(world, path, user):
            response, body = fetch(user, method, url, data, headers)
            walked += 1
            if response.status_code >= 500:
                crashes.append(f"{method} {url}: {response.status_code}")
            found = [s for s in SECRETS if s.casefold() in body.casefold()]
            if found:
                leaks.append(f"{method} {url} ({response.status_code}): {found}")

    assert walked > 50
    assert crashes == []
    assert leaks == []


def test_the_walker_reaches_the_routes_that_take_a_challenge(world):
    walked = paths(world)
    hidden, locked = world.challenges[1].pk, world.challenges[2].pk

    for challenge_id in (hidden, locked):
        assert f"/challenges/{challenge_id}/" in walked
        assert f"/api/v1/challenges/{challenge_id}" in walked
        assert f"/api/v1/challenges/{challenge_id}/attempt" in walked
    assert f"/scoreboard/principal/{world.rival.pk}/" in walked
