"""Build and pull state: the worst case over online nodes with the per-node
breakdown, and rescans that make it true again after a node changed behind
the platform's back."""

import pytest

from challenges.models import Challenge
from nodes.models import (
    ImageKind,
    ImageStatus,
    Node,
    NodeChallengeState,
    NodeStatus,
    TaskKind,
    TaskStatus,
)
from nodes.selectors import challenge_image_states, task_record
from nodes.services.tasks import task_submit
from tests.challenges.factories import make_challenge

BUILT_SERVICES = {"services": [{"name": "challenge", "build": ".", "image": ""}]}


def node(name: str, **fields) -> Node:
    defaults = {"url": f"unix:///run/{name}.sock", "status": NodeStatus.ONLINE}
    return Node.objects.create(name=name, **{**defaults, **fields})


def put(node: Node, challenge, status: str) -> None:
    NodeChallengeState.objects.create(
        node=node, challenge=challenge, kind=ImageKind.BUILD, status=status
    )


@pytest.mark.parametrize(
    "statuses, worst",
    [
        (["built", "built"], "built"),
        (["built", None], "pending"),  # no row on the second node yet
        (["built", "pending"], "pending"),
        (["pending", "building"], "building"),
        (["building", "failed"], "failed"),
        (["failed", "built"], "failed"),
    ],
)
def test_the_aggregate_is_the_worst_case_over_nodes(db, statuses, worst):
    challenge = make_challenge("Box", services=BUILT_SERVICES)
    nodes = [node("n1"), node("n2")]
    for each, status in zip(nodes, statuses, strict=True):
        if status:
            put(each, challenge, status)

    state = challenge_image_states(kind=ImageKind.BUILD, challenges=[challenge])

    assert state[challenge.pk].status == worst
    assert [(n.node, n.status) for n in state[challenge.pk].nodes] == [
        ("n1", statuses[0] or "pending"),
        ("n2", statuses[1] or "pending"),
    ]


def test_offline_and_disabled_nodes_do_not_count(db):
    challenge = make_challenge("Box", services=BUILT_SERVICES)
    put(node("up"), challenge, ImageStatus.BUILT)
    put(node("down", status=NodeStatus.OFFLINE), challenge, ImageStatus.FAILED)
    put(node("off", enabled=False), challenge, ImageStatus.FAILED)

    state = challenge_image_states(kind=ImageKind.BUILD, challenges=[challenge])

    assert state[challenge.pk].status == "built"
    assert [n.node for n in state[challenge.pk].nodes] == ["up"]


def test_a_challenge_without_images_has_no_state(db, django_assert_num_queries):
    static = make_challenge("Static")
    pulled = make_challenge(
        "Pulled", services={"services": [{"name": "c", "image": "nginx:1"}]}
    )
    node("n1")

    with django_assert_num_queries(2):
        builds = challenge_image_states(
            kind=ImageKind.BUILD, challenges=[static, pulled]
        )
    pulls = challenge_image_states(kind=ImageKind.PULL, challenges=[static, pulled])

    assert builds[static.pk].status == builds[pulled.pk].status == "none"
    assert pulls[pulled.pk].status == "pending"
    assert pulls[static.pk].status == "none"


def test_the_state_costs_two_queries_however_many_challenges(
    db, django_assert_num_queries
):
    nodes = [node(f"n{i}") for i in range(3)]
    challenges = [make_challenge(f"C{i}", services=BUILT_SERVICES) for i in range(40)]
    for challenge in challenges[::2]:
        for each in nodes:
            put(each, challenge, ImageStatus.BUILT)

    with django_assert_num_queries(2):
        states = challenge_image_states(kind=ImageKind.BUILD, challenges=challenges)

    assert sum(s.status == "built" for s in states.values()) == 20


# With engines.


def test_a_rescan_notices_an_image_removed_behind_our_back(
    daemons, alpha, beta, catalog
):
    catalog.challenge("pwn/echo")
    catalog.rescan()
    challenge = Challenge.objects.get(identity="pwn/echo")
    task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])
    tag = NodeChallengeState.objects.get(node=beta, kind="build").images["challenge"][
        "ref"
    ]

    daemons["beta"].docker("rmi", tag)  # someone wiped beta
    catalog.rescan()  # the catalog is unchanged; the nodes are looked at again

    states = {
        s.node.name: (s.status, s.message)
        for s in NodeChallengeState.objects.filter(kind="build").select_related("node")
    }
    assert states == {
        "alpha": ("built", "found on the node"),
        "beta": ("pending", "the image is no longer on the node"),
    }
    aggregate = challenge_image_states(kind="build", challenges=[challenge])
    assert aggregate[challenge.pk].status == "pending"

    again = task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])
    again.refresh_from_db()

    messages = {o.node.name: o.message for o in again.outcomes.select_related("node")}
    assert messages == {
        "alpha": "up to date: nothing rebuilt",
        "beta": "built 1 image(s)",
    }
    assert challenge_image_states(kind="build", challenges=[challenge])[
        challenge.pk
    ].status == ("built")


def test_a_rescan_task_reloads_the_catalog_and_records_each_node(alpha, beta, catalog):
    catalog.challenge("pwn/echo")

    task = task_submit(kind=TaskKind.RESCAN)
    task.refresh_from_db()

    record = task_record(task)
    assert record["status"] == TaskStatus.SUCCEEDED
    assert record["result"]["catalog"]["added"] == ["pwn/echo"]
    assert set(record["nodes"]) == {"alpha", "beta"}
    outcome = record["nodes"]["alpha"]["outcomes"][0]
    assert outcome["challenge"] is None
    assert outcome["message"].endswith("0 of 1 challenge(s) built, 0 of 0 pulled")
    # The rescan did not queue a second task for itself.
    assert Challenge.objects.count() == 1
    assert type(task).objects.count() == 1


def test_a_changed_source_makes_a_built_challenge_pending_again(alpha, catalog):
    catalog.challenge("pwn/echo")
    catalog.rescan()
    challenge = Challenge.objects.get(identity="pwn/echo")
    task_submit(kind=TaskKind.BUILD, challenge_ids=[challenge.pk])

    catalog.write("pwn/echo/nonce", "new source")
    catalog.rescan()

    state = NodeChallengeState.objects.get(node=alpha, kind="build")
    assert (state.status, state.message) == (
        "pending",
        "the source changed since the last build",
    )
