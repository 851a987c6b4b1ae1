"""The organizer's Instances screen (filters, stop and extend actions, a failed
start's log), the latency histogram on a challenge's page and the dashboard's
running-instances slot."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from challenges.models import Challenge, Competition
from nodes.models import Instance, InstanceStatus, Node, NodeStatus
from nodes.services.instances import instance_start
from tests.challenges.factories import make_challenge
from tests.scoring.factories import player, principal_of

from .conftest import wait_until
from .instance_world import (
    built,
    instanced,
    no_leftovers,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.usefixtures("no_leftovers")

INSTANCED = {
    "services": [{"name": "challenge", "build": "."}],
    "instance": {"ports": [1337]},
}


@pytest.fixture
def admin_client(login, organizer):
    return login(organizer)


def online(name: str) -> Node:
    return Node.objects.create(
        name=name, url=f"unix:///run/{name}.sock", status=NodeStatus.ONLINE
    )


def record(challenge, user, *, node=None, status=InstanceStatus.RUNNING, **fields):
    """An instance row as the platform leaves it (no engine behind it)."""
    principal = principal_of(user)
    return Instance.objects.create(
        principal=principal,
        challenge=challenge,
        competition=principal.competition,
        node=node,
        status=status,
        **fields,
    )


@pytest.fixture
def rows(db):
    alpha, beta = online("alpha"), online("beta")
    web = make_challenge("Web Box", services=INSTANCED)
    pwn = make_challenge("Pwn Box", services=INSTANCED)
    ann, bob = player("ann"), player("bob")
    return {
        "running": record(
            web,
            ann,
            node=alpha,
            ports=[{"service": "challenge", "port": 1337, "host_port": 32768}],
        ),
        "failed": record(
            pwn,
            ann,
            node=beta,
            status=InstanceStatus.FAILED,
            message="The challenge could not start; the organizers are told.",
            error="container exited with code 1",
            log_tail="box: cannot open /flag\nbox: giving up",
        ),
        "other": record(web, bob, node=beta),
    }


def listed(client, query: str = "") -> set[int]:
    html = client.get(reverse("admin:nodes_instance_changelist") + query).content
    ids = re.findall(rb'name="_selected_action" value="(\d+)"', html)
    return {int(i) for i in ids}


def test_the_instances_screen_filters_by_node_challenge_principal_and_status(
    admin_client, rows
):
    running, failed, other = rows["running"], rows["failed"], rows["other"]
    assert listed(admin_client) == {running.pk, failed.pk, other.pk}
    assert listed(admin_client, f"?node__id__exact={failed.node_id}") == {
        failed.pk,
        other.pk,
    }
    assert listed(admin_client, f"?challenge__id__exact={running.challenge_id}") == {
        running.pk,
        other.pk,
    }
    assert listed(admin_client, f"?principal__id__exact={running.principal_id}") == {
        running.pk,
        failed.pk,
    }
    assert listed(admin_client, "?status__exact=failed") == {failed.pk}
    page = admin_client.get(reverse("admin:nodes_instance_changelist")).content.decode()
    assert "alpha.sock" not in page and "challenge 1337 → " in page


def test_the_list_costs_the_same_queries_for_more_rows(admin_client, rows):
    url = reverse("admin:nodes_instance_changelist")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for n in range(5):
        record(rows["running"].challenge, player(f"p{n}"), node=rows["running"].node)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many) == len(few)


def test_a_failed_start_shows_its_log_and_error_and_nothing_is_editable(
    admin_client, rows
):
    failed = rows["failed"]
    url = reverse("admin:nodes_instance_change", args=[failed.pk])
    page = admin_client.get(url).content.decode()
    assert "box: cannot open /flag\nbox: giving up" in page
    assert "container exited with code 1" in page
    assert 'name="_save"' not in page

    admin_client.post(url, {"status": "running", "error": ""})
    failed.refresh_from_db()
    assert failed.status == InstanceStatus.FAILED and failed.error
    running = reverse("admin:nodes_instance_change", args=[rows["running"].pk])
    assert "last log lines" not in admin_client.get(running).content.decode()


def test_players_cannot_reach_the_instances_screens(login, solo, rows):
    client = login(solo)
    for url in (
        reverse("admin:nodes_instance_changelist"),
        reverse("admin:nodes_instance_change", args=[rows["failed"].pk]),
        reverse("admin:nodes_instance_running"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_dashboard_slot_counts_running_instances_per_node(admin_client, rows):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:nodes_instance_running") in index
    slot = admin_client.get(reverse("admin:nodes_instance_running")).content.decode()
    assert "Running instances: 2" in slot
    assert re.search(r"<td>alpha</td><td>1</td>", slot)
    assert re.search(r"<td>beta</td><td>1</td>", slot)


def test_the_challenge_page_shows_its_start_latency_histogram(admin_client, rows):
    web = rows["running"].challenge
    Instance.objects.filter(pk=rows["running"].pk).update(latency_ms=180)
    for n, ms in enumerate((300, 450, 700, 40_000)):
        record(web, player(f"l{n}"), status=InstanceStatus.STOPPED, latency_ms=ms)
    url = reverse("admin:challenges_challenge_change", args=[web.pk])
    page = admin_client.get(url).content.decode()
    table = page[page.index('id="instance-latency"') :]
    found = re.findall(r'data-bucket="([^"]+)"><td>[^<]+</td><td>(\d+)</td>', table)
    counts = {unescape(label): n for label, n in found}
    assert counts["≤ 250 ms"] == "1"
    assert counts["≤ 500 ms"] == "2"
    assert counts["≤ 1 s"] == "1"
    assert counts["> 30 s"] == "1"
    plain = make_challenge("Plain")
    plain_page = admin_client.get(
        reverse("admin:challenges_challenge_change", args=[plain.pk])
    ).content.decode()
    assert "instance-latency" not in plain_page


# With a real engine: the actions reach the containers.


@pytest.fixture
def box(alpha, catalog) -> Challenge:
    instanced(catalog)
    catalog.rescan()
    return built("pwn/box")[0]


def running(user, challenge) -> Instance:
    instance = instance_start(user=user, challenge=challenge)

    def settled():
        instance.refresh_from_db()
        return instance.status != InstanceStatus.STARTING

    wait_until(settled, 60, "the instance to start")
    assert instance.status == InstanceStatus.RUNNING, instance.error
    return instance


def test_the_stop_action_confirms_then_stops_the_containers(
    admin_client, organizer, captain, box, daemons
):
    instance = running(captain, box)
    url = reverse("admin:nodes_instance_changelist")
    form = {"action": "stop_instances", "_selected_action": [instance.pk]}
    confirm = admin_client.post(url, form).content.decode()
    assert "These instances will be stopped" in confirm
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.RUNNING

    done = admin_client.post(url, {**form, "confirm": "yes"}, follow=True)
    assert "1 instance(s) stopping." in done.content.decode()
    wait_until(
        lambda: Instance.objects.get(pk=instance.pk).status == InstanceStatus.STOPPED,
        30,
    )
    assert not daemons["alpha"].docker(
        "ps", "-aq", "--filter", f"label=ctf.instance={instance.pk}"
    )


def test_the_extend_action_moves_the_end_and_counts_the_extension(
    admin_client, captain, box
):
    instance = running(captain, box)
    before = instance.expires_at
    response = admin_client.post(
        reverse("admin:nodes_instance_changelist"),
        {"action": "extend_instances", "_selected_action": [instance.pk]},
        follow=True,
    )
    assert "1 instance(s) extended." in response.content.decode()
    instance.refresh_from_db()
    assert instance.extensions == 1
    assert instance.expires_at > before
    assert instance.expires_at - before <= timedelta(hours=24)
    assert timezone.now() < instance.expires_at


def test_stopping_nothing_active_says_so(admin_client, rows):
    response = admin_client.post(
        reverse("admin:nodes_instance_changelist"),
        {"action": "stop_instances", "_selected_action": [rows["failed"].pk]},
    )
    assert "nothing to stop" in response.content.decode()


def test_the_competition_page_has_the_instance_limits(admin_client, db):
    competition = Competition.objects.default()
    page = admin_client.get(
        reverse("admin:challenges_competition_change", args=[competition.pk])
    ).content.decode()
    for field in (
        "instance_lifetime",
        "instance_extension",
        "instance_max_extensions",
        "instance_max_per_principal",
    ):
        assert f'name="{field}"' in page
