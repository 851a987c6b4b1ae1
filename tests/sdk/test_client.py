"""ctfsdk end to end: a live server (pytest-django's live_server, real
PostgreSQL and Redis under `make test`), the client's real HTTP requests, the
effects seen through the client and the database. No mocks."""

import hashlib
from datetime import timedelta

import pytest
from ctfsdk import (
    AuthenticationFailed,
    BadRequest,
    Client,
    NotFound,
    Page,
    PermissionDenied,
    RateLimited,
)
from ctfsdk import models as m
from django.utils import timezone

from challenges.models import Challenge
from scoring.models import AttemptReset
from tests.api_world import build_world
from tests.challenges.factories import (
    fast_password_hashing,  # noqa: F401
    spec,
    write_spec,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def world(transactional_db, tmp_path, settings):
    return build_world(tmp_path / "catalog", settings)


@pytest.fixture
def orga(world, live_server) -> Client:
    return Client(live_server.url, world.staff_token, timeout=10)


@pytest.fixture
def player(world, live_server) -> Client:
    return Client(live_server.url, world.player_token, timeout=10)


def test_an_organizer_reads_every_challenges_numbers(orga, world):
    page = orga.admin.challenges.stats(ordering="-attempts")

    assert isinstance(page, Page) and page.total == 2 and not page.has_more
    vault, warmup = page.items
    assert isinstance(vault, m.ChallengeStats)
    assert (vault.name, vault.attempts, vault.wrong, vault.solves) == ("Vault", 2, 1, 0)
    assert vault.first_blood is None  # one of two questions solved
    assert (warmup.name, warmup.attempts, warmup.wrong, warmup.solves) == (
        "Warmup",
        2,
        1,
        1,
    )
    assert warmup.first_blood.principal == "Null Pointers"
    assert warmup.first_blood.at <= timezone.now()


def test_the_timeseries_counts_what_happened_and_refuses_absurd_buckets(orga, world):
    series = orga.admin.challenges.timeseries(world.vault.pk, window=3600, bucket=60)

    assert isinstance(series, m.Timeseries) and len(series.buckets) == 60
    assert sum(b.attempts for b in series.buckets) == 2
    assert sum(b.wrong for b in series.buckets) == 1
    assert series.end - series.start == timedelta(hours=1)
    with pytest.raises(BadRequest) as refused:
        orga.admin.challenges.timeseries(world.vault.pk, window=86400, bucket=10)
    assert refused.value.status == 400
    assert "8640 buckets" in refused.value.fields["bucket"][0]
    assert "bucket" in str(refused.value)


def test_an_organizer_reads_the_feedback(orga, world):
    page = orga.admin.challenges.feedback(
        world.vault.pk, competition_id=world.competition.pk
    )

    by_user = {f.user: f for f in page.items}
    assert set(by_user) == {"solo", world.captain.username}
    captain = by_user[world.captain.username]
    assert (captain.reaction, captain.comment, captain.team) == (
        "down",
        "hard",
        "Null Pointers",
    )
    assert by_user["solo"].email == "solo@example.org" and by_user["solo"].team is None


def test_a_reset_gives_the_team_its_attempts_back(orga, world, live_server):
    team = Client(live_server.url, world.captain_token, timeout=10)
    safe = world.safe.pk
    # The safe allows 2 wrong flags; the third is refused.
    for flag in ("CTF{a}", "CTF{b}"):
        assert team.challenges.attempt(world.vault.pk, flag, question=safe).result == (
            "wrong"
        )
    assert team.challenges.attempt(world.vault.pk, "CTF{c}", question=safe).result == (
        "refused"
    )

    reset = orga.admin.challenges.reset_question_attempts(
        world.captain.team_id, world.vault.pk, safe, reason="flag had a typo"
    )

    assert isinstance(reset, m.AttemptReset)
    assert (reset.team_id, reset.question_id, reset.admin) == (
        world.captain.team_id,
        safe,
        "orga",
    )
    assert AttemptReset.objects.get(pk=reset.id).reason == "flag had a typo"
    answer = team.challenges.attempt(world.vault.pk, "CTF{safe}", question=safe)
    assert answer.result == "correct"


def test_a_rescan_loads_a_new_spec(orga, player, world, settings):
    write_spec(settings.CATALOG_DIR, "web/login", spec("Login", category="web"))

    dry = orga.admin.challenges.rescan(dry_run=True)
    assert "Login" not in [card.name for card in player.challenges.list().items]
    task = orga.admin.tasks.wait(orga.admin.challenges.rescan(), timeout=30)

    assert isinstance(dry, m.RescanReport) and dry.added == ["web/login"]
    assert isinstance(task, m.Task) and task.kind == "rescan"
    report = task.result["catalog"]
    assert report["added"] == ["web/login"]
    assert report["unchanged"] == ["crypto/vault", "misc/warmup"]
    assert "Login" in [card.name for card in player.challenges.list().items]
    # The world's node "north" cannot be reached: its part fails, saying so.
    assert task.status == "failed" and "north" in task.error
    assert task.nodes["north"].outcomes[0].message.startswith("node unreachable")


def test_hiding_a_challenge_takes_it_from_the_players(orga, player, world):
    changed = orga.admin.challenges.hide(world.warmup.pk)

    assert changed.changed and changed.challenge.state == "hidden"
    assert "Warmup" not in [c.name for c in player.challenges.list().items]
    with pytest.raises(NotFound):
        player.challenges.get(world.warmup.pk)
    assert orga.admin.challenges.hide(world.warmup.pk).changed is False
    assert orga.admin.challenges.show(world.warmup.pk).challenge.state == "visible"
    assert player.challenges.get(world.warmup.pk).name == "Warmup"


def test_an_organizer_lists_and_reads_challenges(orga, world):
    listed = orga.admin.challenges.list(category="crypto")
    detail = orga.admin.challenges.get(world.vault.pk)

    assert [c.name for c in listed.items] == ["Vault"]
    assert isinstance(detail, m.AdminChallengeDetail)
    assert [(q.key, q.attempts, q.flag_kinds) for q in detail.questions] == [
        ("door", 0, ["static"]),
        ("safe", 2, ["static"]),
    ]
    assert detail.files[0].name == "plan.txt"


def test_a_freeze_freezes_the_players_scoreboard(orga, player, world):
    frozen = orga.admin.competitions.freeze(world.competition.pk)

    assert isinstance(frozen, m.Competition) and frozen.phase == "frozen"
    assert player.scoreboard().frozen is True
    assert orga.admin.competitions.unfreeze(world.competition.pk).frozen is False
    assert player.scoreboard().frozen is False
    later = timezone.now() + timedelta(hours=2)
    scheduled = orga.admin.competitions.freeze(world.competition.pk, at=later)
    assert scheduled.freeze_at == later and scheduled.phase == "running"
    names = [c.name for c in orga.admin.competitions.list().items]
    assert names == ["Main event", "Finals"]


def test_a_ban_refuses_the_teams_flags_and_an_adjustment_moves_its_score(
    orga, world, live_server
):
    team = Client(live_server.url, world.captain_token, timeout=10)
    principal = world.team_principal.pk

    banned = orga.admin.principals.ban(principal, reason="shared flags")

    assert banned.changed and banned.principal.is_banned
    answer = team.challenges.attempt(
        world.vault.pk, "CTF{safe}", question=world.safe.pk
    )
    assert answer.result == "refused"
    assert orga.admin.principals.unban(principal).principal.is_banned is False
    before = orga.admin.principals.get(principal).score
    after = orga.admin.principals.adjust_score(principal, 50, note="best writeup")
    assert after.score == before + 50
    row = next(r for r in team.scoreboard().items if r.principal_id == principal)
    assert row.score == before + 50
    event = orga.admin.events.list(type="SCORE_ADJUSTED").items[0]
    assert event.message == "+50 admin:best writeup" and event.actor == "orga"


def test_an_organizer_finds_who_submitted_a_flag(orga, world):
    digest = hashlib.sha256(b"CTF{nope}").hexdigest()

    found = orga.admin.submissions.list(flag_sha256=digest)
    wrong_on_vault = orga.admin.submissions.list(
        result="wrong", challenge_id=world.vault.pk
    )
    every = list(Client.every(orga.admin.submissions.list, page_size=1))

    assert {s.user for s in found.items} == {"solo"} and found.total == 2
    assert [(s.challenge, s.question) for s in wrong_on_vault.items] == [
        ("Vault", "door")
    ]
    assert len(every) == 4 and all(isinstance(s, m.Submission) for s in every)
    assert len({s.id for s in every}) == 4


def test_principals_filter_and_order(orga, world):
    teams = orga.admin.principals.list(kind="team")
    ranked = orga.admin.principals.list(ordering="-score")

    assert [p.name for p in teams.items] == ["Null Pointers"]
    assert [p.name for p in ranked.items] == ["Null Pointers", "solo"]


def test_a_player_plays_through_the_client(player, world):
    me = player.me()
    board = player.challenges.list()
    vault = player.challenges.get(world.vault.pk)
    handout = player.challenges.download(world.vault.pk, world.handout.pk)
    correct = player.challenges.attempt(
        world.vault.pk, "CTF{door}", question=world.door.pk
    )

    assert (me.username, me.principal.kind, me.team) == ("solo", "solo", None)
    assert {c.name for c in board.items} == {"Warmup", "Vault"}
    assert [q.key for q in vault.questions] == ["door", "safe"]
    assert handout == b"door, then safe\n"
    assert (correct.result, correct.points) == ("correct", 100)
    assert player.me().score == 100
    assert player.scoreboard().mine.score == 100


def test_a_lockout_raises_rate_limited_with_the_wait(player, world):
    # The world's solo player sent two wrong flags already; this is the third.
    assert player.challenges.attempt(world.warmup.pk, "CTF{no}").result == "wrong"

    with pytest.raises(RateLimited) as limited:
        player.challenges.attempt(world.warmup.pk, "CTF{hi}")

    assert limited.value.status == 429 and 0 < limited.value.retry_after <= 30
    assert "paused" in limited.value.detail


def test_errors_carry_the_status_and_the_servers_message(player, world, live_server):
    with pytest.raises(PermissionDenied) as refused:
        player.admin.challenges.stats()
    with pytest.raises(AuthenticationFailed) as unknown:
        Client(live_server.url, "ctf_not-a-token").me()
    with pytest.raises(NotFound) as missing:
        player.challenges.get(Challenge.objects.order_by("pk").last().pk + 1)

    assert refused.value.status == 403 and refused.value.error == "permission_denied"
    assert "permission" in refused.value.detail
    assert unknown.value.status == 401
    assert unknown.value.detail == "Invalid, expired or revoked token."
    assert missing.value.status == 404
