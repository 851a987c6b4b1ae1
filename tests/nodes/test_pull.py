"""Pulling registry images (the local registry the harness runs) onto nodes."""

from challenges.models import Challenge
from nodes.models import (
    ImageKind,
    ImageStatus,
    NodeChallengeState,
    OutcomeStatus,
    TaskKind,
    TaskStatus,
)
from nodes.services.tasks import task_submit


def pull_state(node, identity: str) -> NodeChallengeState:
    return NodeChallengeState.objects.get(
        node=node, challenge__identity=identity, kind=ImageKind.PULL
    )


def forget(daemons, reference: str) -> None:
    for daemon in daemons.values():
        daemon.docker("rmi", reference, check=False)


def test_it_pulls_an_image_onto_every_node(
    daemons, alpha, beta, catalog, registry_image
):
    forget(daemons, registry_image)
    catalog.pulled("misc/pulled", registry_image)
    catalog.rescan()
    challenge = Challenge.objects.get(identity="misc/pulled")

    task = task_submit(kind=TaskKind.PULL, challenge_ids=[challenge.pk])
    task.refresh_from_db()

    assert task.status == TaskStatus.SUCCEEDED
    for node in (alpha, beta):
        state = pull_state(node, "misc/pulled")
        assert state.status == ImageStatus.PULLED
        pulled = state.images["challenge"]
        assert pulled["ref"] == registry_image
        listed = daemons[node.name].docker(
            "inspect", "--format", "{{.Id}}", registry_image
        )
        assert listed == pulled["id"]
        assert f"pulling {registry_image}" in state.log_tail


def test_pull_all_pulls_the_image_services_of_compose_files(
    daemons, alpha, catalog, registry_image
):
    forget(daemons, registry_image)
    catalog.challenge(
        "web/stack",
        compose="services:\n  web:\n    build: ./app\n"
        f"  cache:\n    image: {registry_image}\n",
        files={"app/Dockerfile": "FROM scratch\nCOPY Dockerfile /\n"},
    )
    catalog.challenge("pwn/only-built")
    catalog.rescan()

    task = task_submit(kind=TaskKind.PULL_ALL)
    task.refresh_from_db()

    assert task.status == TaskStatus.SUCCEEDED
    assert [o.challenge.identity for o in task.outcomes.all()] == ["web/stack"]
    state = pull_state(alpha, "web/stack")
    assert (state.status, list(state.images)) == (ImageStatus.PULLED, ["cache"])
    # The service it builds is not pulled: its build state is still to do.
    built = NodeChallengeState.objects.get(
        node=alpha, challenge__identity="web/stack", kind=ImageKind.BUILD
    )
    assert built.status == ImageStatus.PENDING


def test_an_unknown_image_fails_its_challenge(alpha, catalog, registry):
    catalog.pulled("misc/missing", f"{registry}/ctf-tests/no-such-image:7")
    catalog.rescan()

    task = task_submit(kind=TaskKind.PULL_ALL)
    task.refresh_from_db()

    outcome = task.outcomes.get()
    assert task.status == TaskStatus.FAILED
    assert outcome.status == OutcomeStatus.FAILED
    assert "no-such-image" in outcome.message
    assert pull_state(alpha, "misc/missing").status == ImageStatus.FAILED
