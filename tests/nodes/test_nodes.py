"""Registering nodes and checking their health against real engines, in words:
TLS refused either way, nothing listening, no socket; and `manage.py node`."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from audit.models import EventLog, EventType
from nodes.models import Node, NodeStatus
from nodes.services.nodes import node_add, node_register_local, nodes_check_all


def test_a_local_socket_node_reports_its_engine(alpha):
    assert alpha.status == NodeStatus.ONLINE
    assert alpha.engine_version.startswith("20.10")
    assert alpha.status_detail == f"Docker {alpha.engine_version} (API 1.41)"
    assert alpha.cpus >= 1 and alpha.memory > 1 << 28
    assert alpha.disk_free > 0  # the socket is on this machine: its disk is ours
    assert alpha.last_seen_at == alpha.checked_at
    event = EventLog.objects.get(event_type=EventType.NODE_CHANGED)
    assert event.message == f"node added: {alpha.url}"


def test_a_tls_node_answers_with_its_client_certificate(beta):
    assert beta.status == NodeStatus.ONLINE
    assert beta.uses_tls
    assert beta.disk_free is None  # a remote engine does not say


def _beta_with(daemons, certs, **pems) -> Node:
    beta = daemons["beta"]
    given = {
        "tls_ca": beta.pem("tls_ca"),
        "tls_cert": beta.pem("tls_cert"),
        "tls_key": beta.pem("tls_key"),
    }
    given.update({key: (certs / name).read_text() for key, name in pems.items()})
    return node_add(name="beta-wrong", url=beta.url, **given)


def test_a_certificate_from_another_ca_is_refused_in_words(
    daemons, certs, transactional_db
):
    node = _beta_with(
        daemons,
        certs,
        tls_cert="foreign-client-cert.pem",
        tls_key="foreign-client-key.pem",
    )

    assert node.status == NodeStatus.OFFLINE
    assert node.status_detail == (
        "the node refused our client certificate: it is not signed by a CA the "
        "node trusts, or none was given"
    )


def test_a_node_certificate_our_ca_did_not_sign_is_refused(
    daemons, certs, transactional_db
):
    node = _beta_with(daemons, certs, tls_ca="foreign-ca.pem")

    assert node.status == NodeStatus.OFFLINE
    assert node.status_detail == (
        "the node's certificate is not signed by the CA stored for it"
    )


def test_a_tls_port_without_certificates_says_so(daemons, transactional_db):
    node = node_add(name="plain", url=daemons["beta"].url)

    assert node.status_detail == (
        "the node expects TLS on this port: store its CA certificate and a client "
        "certificate and key for it"
    )


def test_unreachable_nodes_say_what_is_wrong(transactional_db, tmp_path):
    missing = node_add(name="missing", url=f"unix://{tmp_path}/docker.sock")
    refused = node_add(name="refused", url="tcp://127.0.0.1:1")

    assert (
        missing.status_detail == f"there is no Docker socket at {tmp_path}/docker.sock"
    )
    assert refused.status_detail == (
        "nothing listens on 127.0.0.1:1 (is dockerd running?)"
    )


def test_the_periodic_check_marks_nodes_online_and_offline(alpha, tmp_path):
    gone = node_add(name="gone", url=f"unix://{tmp_path}/docker.sock")
    Node.objects.filter(pk=gone.pk).update(status=NodeStatus.ONLINE)

    checked = {node.name: node.status for node in nodes_check_all()}

    assert checked == {"alpha": "online", "gone": "offline"}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"url": "http://x:1"}, "Use unix:///path/to/docker.sock or tcp://host:2376."),
        ({"url": "tcp://host"}, "A TCP URL needs a host and a port."),
        (
            {"url": "tcp://10.0.0.5:2375"},
            "tcp://10.0.0.5:2375 without TLS lets anyone who reaches that port",
        ),
        (
            {"url": "tcp://h:2376", "tls_cert": "-----BEGIN CERTIFICATE-----x"},
            "This is not PEM text",
        ),
    ],
)
def test_bad_node_settings_are_refused_before_anything_is_stored(db, fields, message):
    with pytest.raises(ValidationError) as error:
        node_add(name="bad", **fields)

    assert message in str(error.value)
    assert not Node.objects.exists()


def test_plain_tcp_to_another_host_can_be_allowed(db):
    node = node_add(name="lan", url="tcp://10.255.0.9:2375", allow_plain_tcp=True)

    assert node.allow_plain_tcp and node.pk


def test_the_local_socket_becomes_the_local_node_when_it_answers(
    daemons, transactional_db, tmp_path
):
    assert node_register_local(url=f"unix://{tmp_path}/none.sock") is None
    assert not Node.objects.exists()

    local = node_register_local(url=daemons["alpha"].url)
    again = node_register_local(url=daemons["alpha"].url)

    assert (local.name, local.status, local.host) == ("local", "online", "127.0.0.1")
    assert again.pk == local.pk


# manage.py node


def run(*args: str) -> str:
    out = StringIO()
    call_command("node", *args, stdout=out)
    return out.getvalue()


def test_the_node_command_adds_lists_checks_and_disables(daemons, transactional_db):
    beta = daemons["beta"]
    added = run(
        "add",
        "beta",
        beta.url,
        "--tls-ca",
        beta.tls_ca,
        "--tls-cert",
        beta.tls_cert,
        "--tls-key",
        beta.tls_key,
        "--public-address",
        "ctf.example.org",
        "--capacity",
        "12",
        "--label",
        "zone=eu",
    )
    assert added.splitlines()[0] == f"Added node beta ({beta.url})."
    assert "beta: online, Docker 20.10" in added

    [listed] = json.loads(run("list", "--json"))
    assert {k: listed[k] for k in ("name", "tls", "public_address", "capacity")} == {
        "name": "beta",
        "tls": True,
        "public_address": "ctf.example.org",
        "capacity": 12,
    }
    assert listed["labels"] == {"zone": "eu"}
    assert "BEGIN" not in json.dumps(listed)  # no key material in listings
    assert "beta: online" in run("check", "beta")

    assert run("disable", "beta") == "Node beta disabled: it gets no more work.\n"
    assert not Node.objects.get(name="beta").enabled


def test_the_node_command_reports_errors_plainly(transactional_db, tmp_path):
    with pytest.raises(CommandError, match="url: A TCP URL needs a host and a port."):
        run("add", "x", "tcp://nohost")
    with pytest.raises(CommandError, match="--tls-ca /nope: cannot read it"):
        run("add", "x", "tcp://h:2376", "--tls-ca", "/nope")
    with pytest.raises(CommandError, match="No node named 'ghost'."):
        run("disable", "ghost")
    run("add", "down", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(SystemExit) as exit_:
        run("check")
    assert exit_.value.code == 1
