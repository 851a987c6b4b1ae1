"""A small event for the API tests (routes, schema, schemathesis, the SDK): a
catalog of two challenges (one with a hint, one of two questions and a
handout), a team that solved one, a solo player with wrong flags and
feedback, announcements, a second competition, two nodes nobody can reach
(one disabled), two finished background tasks, two instances (the team's
running, the solo player's stopped: rows only, no containers), and tokens for
an organizer and a player: two or more of everything a list shows."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from accounts.models import User
from accounts.services import token_create
from challenges.models import (
    Announcement,
    Challenge,
    ChallengeFile,
    Competition,
    Question,
)
from challenges.services import announcement_save, catalog_rescan, feedback_set
from nodes.models import (
    BackgroundTask,
    Instance,
    InstanceStatus,
    Node,
    NodeStatus,
    TaskKind,
    TaskStatus,
)
from scoring.models import Principal
from tests.challenges.factories import team_with_players, write_spec
from tests.scoring.factories import attempt

WARMUP = """\
name: Warmup
author: alice
category: misc
description: Say **hi**.
value: 100
type: standard
flags: ["CTF{hi}"]
hints: [Just say it.]
"""

VAULT = """\
name: Vault
category: crypto
description: Two locks.
type: standard
files: [plan.txt]
questions:
  - {key: door, name: Door, points: 100, flags: ["CTF{door}"]}
  - {key: safe, name: Safe, points: 200, flags: ["CTF{safe}"], attempts: 2}
"""


@dataclass
class World:
    competition: Competition
    organizer: User
    captain: User
    solo: User
    team_principal: Principal
    solo_principal: Principal
    warmup: Challenge
    vault: Challenge
    door: Question
    safe: Question
    handout: ChallengeFile
    node: Node
    task: BackgroundTask
    running: Instance  # the team's, of Warmup
    stopped: Instance  # the solo player's, of Vault
    staff_token: str
    player_token: str  # the solo player's
    captain_token: str

    def path_values(self) -> dict[str, int]:
        """A value for each path parameter of the API, naming real objects."""
        return {
            "challenge_id": self.vault.pk,
            "question_id": self.door.pk,
            "team_id": self.captain.team_id,
            "principal_id": self.team_principal.pk,
            "competition_id": self.competition.pk,
            "file_id": self.handout.pk,
            "node_id": self.node.pk,
            "task_id": self.task.pk,
            "instance_id": self.running.pk,
        }


def build_world(catalog: Path, settings) -> World:
    write_spec(catalog, "misc/warmup", WARMUP)
    write_spec(catalog, "crypto/vault", VAULT, files={"plan.txt": "door, then safe\n"})
    settings.CATALOG_DIR = catalog
    report = catalog_rescan(catalog=catalog)
    assert report.rejected == [], report.rejected
    competition = Competition.objects.default()
    warmup = Challenge.objects.get(name="Warmup")
    vault = Challenge.objects.get(name="Vault")
    organizer = User.objects.create_user(
        "orga", email="orga@example.org", is_staff=True, is_superuser=True
    )
    captain = team_with_players("Null Pointers", size=2).captain
    solo = User.objects.create_user("solo", email="solo@example.org")
    attempt(captain, warmup, "CTF{hi}")
    attempt(captain, vault, "CTF{door}", question=vault.questions.get(key="door"))
    attempt(solo, warmup, "CTF{nope}")
    attempt(solo, vault, "CTF{nope}", question=vault.questions.get(key="door"))
    feedback_set(user=solo, challenge=warmup, competition=competition, vote=1)
    feedback_set(user=solo, challenge=vault, competition=competition, vote=1)
    feedback_set(
        user=captain, challenge=vault, competition=competition, vote=-1, comment="hard"
    )
    Competition.objects.create(name="Finals", slug="finals", include_all=False)
    for title in ("Welcome", "Vault fixed"):
        announcement_save(
            announcement=Announcement(competition=competition, title=title),
            actor=organizer,
        )
    # Sockets that do not exist: a check or a build fails at once, saying so.
    node = Node.objects.create(
        name="north", url="unix:///nonexistent/north.sock", status=NodeStatus.OFFLINE
    )
    Node.objects.create(name="south", url="unix:///nonexistent/s.sock", enabled=False)
    BackgroundTask.objects.create(kind=TaskKind.RESCAN, status=TaskStatus.SUCCEEDED)
    task = BackgroundTask.objects.create(
        kind=TaskKind.BUILD,
        params={"challenges": [vault.pk]},
        status=TaskStatus.FAILED,
        error="No node is enabled.",
        created_by=organizer,
    )
    now = timezone.now()
    team_principal = Principal.objects.get(team=captain.team)
    solo_principal = Principal.objects.get(user=solo)
    running = Instance.objects.create(
        principal=team_principal,
        challenge=warmup,
        competition=competition,
        node=node,
        status=InstanceStatus.RUNNING,
        ports=[{"service": "challenge", "port": 1337, "host_port": 31337}],
        started_by=captain,
        requested_at=now - timedelta(minutes=5),
        running_at=now - timedelta(minutes=4),
        expires_at=now + timedelta(minutes=25),
        latency_ms=800,
    )
    stopped = Instance.objects.create(
        principal=solo_principal,
        challenge=vault,
        competition=competition,
        node=node,
        status=InstanceStatus.STOPPED,
        message="Stopped.",
        started_by=solo,
        requested_at=now - timedelta(hours=2),
        running_at=now - timedelta(hours=2),
        stopped_at=now - timedelta(hours=1),
        latency_ms=2500,
    )
    return World(
        competition=competition,
        organizer=organizer,
        captain=captain,
        solo=solo,
        team_principal=team_principal,
        solo_principal=solo_principal,
        warmup=warmup,
        vault=vault,
        door=vault.questions.get(key="door"),
        safe=vault.questions.get(key="safe"),
        handout=vault.files.get(),
        node=node,
        task=task,
        running=running,
        stopped=stopped,
        staff_token=token_create(user=organizer)[1],
        player_token=token_create(user=solo)[1],
        captain_token=token_create(user=captain)[1],
    )
