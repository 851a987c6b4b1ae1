"""The instance panel on a challenge's page, with real engines: start, see how
to connect, extend, restart, stop; teammates share one instance; every refusal
says why; a challenge the player may not open is not found."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from challenges.models import Challenge, Competition
from nodes.models import Instance, InstanceStatus
from nodes.services.instances import InstanceRefused, instance_start
from tests.scoring.factories import own_flag, principal_of

from .conftest import wait_until
from .instance_world import (
    built,
    instanced,
    no_leftovers,  # noqa: F401 (fixture)
    read_banner,
)

pytestmark = pytest.mark.usefixtures("no_leftovers")

HTMX = {"HTTP_HX_REQUEST": "true"}
# A box that says something and exits at once: the start fails.
DOCKERFILE_EXITING = """\
FROM scratch
COPY busybox /bin/busybox
CMD ["/bin/busybox", "sh", "-c", "echo no flag for you; exit 3"]
"""


@pytest.fixture
def box(alpha, catalog) -> Challenge:
    instanced(catalog)
    catalog.rescan()
    return built("pwn/box")[0]


def panel(client: Client, challenge: Challenge) -> str:
    response = client.get(reverse("instances:panel", args=[challenge.pk]), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def post(client: Client, challenge: Challenge, action: str, **extra):
    url = reverse(f"instances:{action}", args=[challenge.pk])
    return client.post(url, **{**HTMX, **extra})


def status_of(html: str) -> str:
    return re.search(r'data-status="([a-z]+)"', html).group(1)


def running_panel(client: Client, challenge: Challenge) -> str:
    """The panel once the instance runs (the page polls the same route)."""
    wait_until(lambda: status_of(panel(client, challenge)) != "starting", 60)
    html = panel(client, challenge)
    errors = list(Instance.objects.values_list("status", "error"))
    assert status_of(html) == "running", errors
    return html


def connection(html: str) -> tuple[str, int]:
    text = re.search(r'class="code instance-connection">([^<]+)<', html).group(1)
    _, host, port = text.split()
    return host, int(port)


def test_a_player_starts_connects_to_and_stops_their_instance(
    login, captain, box, daemons
):
    client = login(captain)
    page = client.get(box.get_absolute_url()).content.decode()
    assert "Start instance" in page
    assert "nc {host} {port}" not in page  # the template is filled, never shown raw

    started = post(client, box, "start")
    assert started.status_code == 200
    assert status_of(started.content.decode()) in ("starting", "running")
    html = running_panel(client, box)

    host, port = connection(html)
    principal = principal_of(captain)
    assert read_banner(host, port) == own_flag(principal, box.questions.get())
    assert "left" in html and "Stop" in html
    instance = Instance.objects.get(principal=principal)
    for inside in (*instance.containers.values(), instance.network, "alpha"):
        assert inside[:12] not in html  # the node's name and what runs on it
    assert 'hx-trigger="every 1s"' not in html  # settled: no fast polling

    stopped = post(client, box, "stop").content.decode()
    assert status_of(stopped) in ("stopping", "stopped")
    wait_until(lambda: status_of(panel(client, box)) == "stopped", 30)
    assert not daemons["alpha"].docker(
        "ps", "-aq", "--filter", f"label=ctf.instance={instance.pk}"
    )
    assert "Start instance" in panel(client, box)


def test_while_starting_the_panel_polls_itself_and_stops_once_running(
    login, captain, box
):
    client = login(captain)
    instance_start(user=captain, challenge=box)
    instance = Instance.objects.get()
    Instance.objects.filter(pk=instance.pk).update(status=InstanceStatus.STARTING)
    html = panel(client, box)
    assert 'hx-trigger="every 1s"' in html
    assert reverse("instances:panel", args=[box.pk]) in html
    assert 'name="cancel"' in html
    Instance.objects.filter(pk=instance.pk).update(status=InstanceStatus.RUNNING)
    assert 'hx-trigger="every 1s"' not in panel(client, box)


def test_a_start_can_be_cancelled_while_it_is_starting(login, solo, box, daemons):
    client = login(solo)
    instance_start(user=solo, challenge=box)
    instance = Instance.objects.get()
    # As if the worker had not got to it yet.
    Instance.objects.filter(pk=instance.pk).update(status=InstanceStatus.STARTING)
    html = post(client, box, "stop").content.decode()
    assert status_of(html) in ("stopping", "stopped")
    wait_until(lambda: status_of(panel(client, box)) == "stopped", 30)
    assert not daemons["alpha"].docker(
        "ps", "-aq", "--filter", f"label=ctf.instance={instance.pk}"
    )


def test_teammates_share_one_instance_any_member_extends_and_stops_it(
    login, captain, member, box
):
    # A step as long as the 30-minute lifetime: extending works at once.
    competition = Competition.objects.default()
    competition.instance_extension = 1800
    competition.save()
    cap, mem = login(captain), login(member)
    post(cap, box, "start")
    first = running_panel(cap, box)
    post(mem, box, "start")  # a second press by a teammate: the same instance

    seen = running_panel(mem, box)
    assert connection(seen) == connection(first)
    assert Instance.objects.filter(status=InstanceStatus.RUNNING).count() == 1

    assert 'name="extend"' in seen
    post(mem, box, "extend")
    assert Instance.objects.get().extensions == 1
    after = panel(cap, box)  # the captain sees the hour it has now
    assert "59 min left" in after and 'name="extend"' not in after

    post(mem, box, "stop")
    wait_until(lambda: status_of(panel(cap, box)) == "stopped", 30)


def test_another_team_sees_no_instance_of_ours(login, captain, solo, box):
    post(login(captain), box, "start")
    html = panel(login(solo), box)
    assert status_of(html) == "none"
    assert "Start instance" in html


def test_a_locked_challenge_is_not_found_by_the_instance_routes(
    login, solo, alpha, catalog
):
    instanced(catalog, "pwn/gate", name="Gate", extra="requirements: [Box]\n")
    instanced(catalog)
    catalog.rescan()
    gate = Challenge.objects.get(identity="pwn/gate")
    client = login(solo)
    assert client.get(gate.get_absolute_url()).status_code in (403, 404)

    for action in ("start", "restart", "extend", "stop"):
        assert post(client, gate, action).status_code == 404
    assert client.get(reverse("instances:panel", args=[gate.pk])).status_code == 404
    assert not Instance.objects.exists()


def test_a_challenge_without_instances_has_no_panel(login, solo, alpha, catalog):
    catalog.challenge("pwn/plain")
    catalog.rescan()
    plain = Challenge.objects.get(identity="pwn/plain")
    client = login(solo)
    assert "instance-panel" not in client.get(plain.get_absolute_url()).content.decode()
    assert post(client, plain, "start").status_code == 404


def refusal(user, challenge) -> InstanceRefused:
    with pytest.raises(InstanceRefused) as refused:
        instance_start(user=user, challenge=challenge)
    return refused.value


def shows_refusal(client, challenge, refused: InstanceRefused) -> str:
    html = post(client, challenge, "start").content.decode()
    assert 'role="alert"' in html
    assert refused.message and escape(refused.message) in html
    assert status_of(html) != "running"
    return html


def test_no_node_to_take_it_is_said_plainly(login, solo, catalog, transactional_db):
    instanced(catalog)
    catalog.rescan()
    box = Challenge.objects.get(identity="pwn/box")
    refused = refusal(solo, box)
    assert refused.code == "no_node"
    shows_refusal(login(solo), box, refused)


def test_the_principals_limit_is_said_plainly(login, solo, alpha, catalog):
    instanced(catalog)
    instanced(catalog, "pwn/box-two", name="Box Two")
    catalog.rescan()
    box, two = built("pwn/box", "pwn/box-two")
    Competition.objects.filter(pk=Competition.objects.default().pk).update(
        instance_max_per_principal=1
    )
    client = login(solo)
    post(client, box, "start")
    running_panel(client, box)

    refused = refusal(solo, two)
    assert refused.code == "limit"
    shows_refusal(client, two, refused)


def test_a_challenge_needing_trust_is_said_plainly(login, solo, alpha, catalog):
    instanced(catalog)
    catalog.write(
        "pwn/box/docker-compose.yml",
        "services:\n  box:\n    build: .\n    privileged: true\n    ports: ['1337']\n",
    )
    catalog.write(
        "pwn/box/challenge.yml",
        (catalog.root / "pwn/box/challenge.yml").read_text().replace("image: .\n", ""),
    )
    catalog.rescan()
    box = Challenge.objects.get(identity="pwn/box")
    assert box.needs_trust
    refused = refusal(solo, box)
    assert refused.code == "untrusted"
    shows_refusal(login(solo), box, refused)


def test_an_ended_competition_is_said_plainly(login, solo, box):
    Competition.objects.filter(pk=Competition.objects.default().pk).update(
        starts_at=timezone.now() - timezone.timedelta(hours=2),
        ends_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    refused = refusal(solo, box)
    assert refused.code == "over"
    shows_refusal(login(solo), box, refused)


def test_without_javascript_a_start_returns_to_the_page_with_a_message(
    login, solo, box
):
    client = login(solo)
    response = client.post(reverse("instances:start", args=[box.pk]), follow=True)
    assert response.redirect_chain[-1][0] == box.get_absolute_url()
    assert "Starting your instance" in response.content.decode()
    assert Instance.objects.filter(status__in=["starting", "running"]).count() == 1


def test_the_buttons_need_a_csrf_token(solo, box):
    client = Client(enforce_csrf_checks=True)
    client.force_login(solo)
    assert post(client, box, "start").status_code == 403
    assert not Instance.objects.exists()


def test_the_buttons_answer_only_post(login, solo, box):
    client = login(solo)
    for action in ("start", "restart", "extend", "stop"):
        assert (
            client.get(reverse(f"instances:{action}", args=[box.pk])).status_code == 405
        )
    assert not Instance.objects.exists()


def limits(**fields) -> Competition:
    competition = Competition.objects.default()
    Competition.objects.filter(pk=competition.pk).update(**fields)
    return competition


def test_the_extend_button_shows_only_when_extending_can_work(
    login, solo, alpha, catalog
):
    instanced(catalog, extra="  lifetime: 300\n")
    catalog.rescan()
    (box,) = built("pwn/box")
    limits(instance_extension=600, instance_max_extensions=1)
    client = login(solo)
    post(client, box, "start")
    html = running_panel(client, box)
    assert 'name="extend"' in html and "1 extension left" in html
    before = Instance.objects.get().expires_at

    extended = post(client, box, "extend").content.decode()
    assert 'role="alert"' not in extended
    assert Instance.objects.get().expires_at > before
    assert 'name="extend"' not in extended  # no extension left

    again = post(client, box, "extend").content.decode()
    assert "cannot be extended any more" in again
    assert Instance.objects.get().extensions == 1


def test_extending_early_in_the_lifetime_says_when_it_will_work(login, solo, box):
    limits(instance_extension=60)
    client = login(solo)
    post(client, box, "start")
    html = running_panel(client, box)
    assert 'name="extend"' not in html
    refused = post(client, box, "extend").content.decode()
    assert "You can extend once 1 minute(s) or less are left." in refused
    assert status_of(refused) == "running"


def test_a_restart_replaces_the_instance_with_a_fresh_one(login, solo, box, daemons):
    client = login(solo)
    post(client, box, "start")
    running_panel(client, box)
    first = Instance.objects.get()

    post(client, box, "restart")
    running_panel(client, box)
    fresh = Instance.objects.exclude(pk=first.pk).get()
    first.refresh_from_db()
    assert fresh.status == InstanceStatus.RUNNING
    assert first.status in (InstanceStatus.STOPPING, InstanceStatus.STOPPED)
    wait_until(
        lambda: (
            not daemons["alpha"].docker(
                "ps", "-aq", "--filter", f"label=ctf.instance={first.pk}"
            )
        ),
        30,
        "the old containers to go",
    )


def test_a_failed_start_shows_the_player_a_sentence_and_never_the_log(
    login, solo, alpha, catalog
):
    instanced(catalog)
    catalog.write(
        "pwn/box/Dockerfile",
        DOCKERFILE_EXITING,
    )
    catalog.rescan()
    (box,) = built("pwn/box")
    client = login(solo)
    post(client, box, "start")
    wait_until(lambda: status_of(panel(client, box)) not in ("starting",), 60)
    html = panel(client, box)
    instance = Instance.objects.get()
    assert instance.status == InstanceStatus.FAILED, instance.status
    assert instance.log_tail  # the organizers' side has the container's lines
    assert status_of(html) == "failed"
    assert escape(instance.message) in html
    assert "no flag for you" not in html and escape(instance.error) not in html
    assert "Start instance" in html


def test_a_player_without_a_team_in_a_teams_only_event_is_told_to_join(
    login, solo, box
):
    limits(play_mode="teams")
    html = post(login(solo), box, "start").content.decode()
    assert "Join a team" in html
    assert not Instance.objects.exists()
