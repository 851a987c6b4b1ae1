"""ctfsdk and instances end to end on a real engine: a player starts an
instance of a busybox challenge through the client, reaches it (it serves the
team's flag), the organizer sees it in the list and the latency histogram,
extends it, and the player stops it: its containers are gone."""

import urllib.request

import pytest
from ctfsdk import Client, Conflict
from ctfsdk import models as m

from accounts.services import token_create
from challenges.models import Challenge
from tests.challenges.factories import (
    fast_password_hashing,  # noqa: F401
    team_with_players,
)
from tests.nodes.conftest import wait_until

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

SPEC = """\
name: Web Box
category: web
value: 100
type: standard
flags: ["CTF{box}"]
image: .
connection_info: http://{host}:{port}/flag
instance:
  ports: [8080]
"""
SERVE_FLAG = (
    'CMD ["sh", "-c", "mkdir -p /www && echo \\"$FLAG\\" > /www/flag '
    '&& exec httpd -f -p 8080 -h /www"]'
)


@pytest.fixture
def box(catalog) -> Challenge:
    catalog.write("web/box/challenge.yml", SPEC)
    catalog.busybox_context("web/box")
    dockerfile = catalog.root / "web/box/Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace('CMD ["sh"]', SERVE_FLAG))
    catalog.rescan()
    return Challenge.objects.get(identity="web/box")


def test_a_player_starts_reaches_and_stops_an_instance(
    daemons, alpha, box, organizer, live_server
):
    captain = team_with_players("Rooters", size=2).captain
    player = Client(live_server.url, token_create(user=captain)[1], timeout=120)
    orga = Client(live_server.url, token_create(user=organizer)[1], timeout=30)
    assert player.challenges.instance(box.pk) is None

    started = player.challenges.instance_start(box.pk)
    again = player.challenges.instance_start(box.pk)  # a double click
    wait_until(
        lambda: player.challenges.instance(box.pk).status != "starting",
        120,
        "the instance to start",
    )
    running = player.challenges.instance(box.pk)

    assert isinstance(started, m.Instance) and again.id == started.id
    assert running.status == "running", running.message
    (port,) = running.ports
    assert (port.service, port.port) == ("challenge", 8080)
    assert running.connection == f"http://127.0.0.1:{port.host_port}/flag"
    with urllib.request.urlopen(running.connection, timeout=10) as answer:  # noqa: S310
        assert answer.read().decode().strip() == "CTF{box}"
    listed = orga.admin.instances.list(challenge_id=box.pk, status="running")
    (record,) = listed.items
    assert isinstance(record, m.InstanceRecord) and record.node == "alpha"
    assert record.principal.name == "Rooters" and set(record.containers) == {
        "challenge"
    }
    assert record.latency_ms is not None and record.latency_ms > 0
    latency = orga.admin.challenges.latency_histogram(challenge_id=box.pk)
    assert isinstance(latency, m.Latency)
    assert sum(b.count for b in latency.buckets) == 1
    extended = orga.admin.instances.extend(record.id)
    assert extended.extensions == 1 and extended.expires_at > record.expires_at
    container = record.containers["challenge"]
    assert daemons["alpha"].docker("ps", "-q", "--no-trunc").count(container) == 1

    stopped = player.challenges.instance_stop(box.pk)

    assert stopped.status in ("stopping", "stopped")
    wait_until(
        lambda: player.challenges.instance(box.pk).status == "stopped",
        60,
        "the instance to stop",
    )
    assert container not in daemons["alpha"].docker("ps", "-aq", "--no-trunc")
    with pytest.raises(Conflict) as refused:
        player.challenges.instance_stop(box.pk)
    assert refused.value.status == 409 and refused.value.error == "not_active"
