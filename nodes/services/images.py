"""Image operations on one node: build or pull a challenge, take its inventory.

Each writes the (node, challenge) state row, which doubles as the lock: a
worker holds a lease on the row while it builds or pulls, so two builds of
the same challenge on the same node never run at once, and a lease left by a
killed worker expires. Re-running any of these is safe: present images are
found by their content-hash tag and not built again.
"""

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from nodes import docker_client
from nodes.models import ImageKind, ImageStatus, Node, NodeChallengeState
from nodes.plans import LABEL_SERVICE, ChallengePlan, PlanError, build_context

LOG_TAIL_LINES = 60
LOG_TAIL_CHARS = 8000
# How often a running build writes its log tail to the state row.
LOG_FLUSH_SECONDS = 2.0


@dataclass(frozen=True)
class ImageOutcome:
    """What one build or pull on one node came to, for the task's record."""

    ok: bool
    message: str
    log_tail: str = ""
    # The node itself failed (down, certificates refused), not the challenge.
    unreachable: bool = False


class Busy(Exception):
    """Another worker holds the lease for too long."""


def challenge_build(
    *, node: Node, plan: ChallengePlan, challenge, task=None
) -> ImageOutcome:
    """Build the challenge's images on `node` unless they are there already."""
    if not plan.builds:
        return ImageOutcome(True, "nothing to build")
    with _lease(node, challenge, ImageKind.BUILD, task) as state:
        ep = node.endpoint()
        tail = _LogTail(state)
        try:
            present = {
                step.tag: docker_client.image_id(ep, step.tag) for step in plan.builds
            }
            if all(present.values()):
                images = _images(plan.run_images, present)
                _save(state, ImageStatus.BUILT, plan.content_hash, images, "up to date")
                return ImageOutcome(True, "up to date: nothing rebuilt")
            if plan.problems:
                raise PlanError("; ".join(plan.problems))
            _save(state, ImageStatus.BUILDING, plan.content_hash, state.images)
            built = 0
            for step in plan.builds:
                if present[step.tag]:
                    tail.add(f"== {step.service}: {step.tag} is there\n")
                    continue
                built += 1
                tail.add(f"== {step.service}: building {step.tag}\n")
                context, dockerfile = build_context(step)
                with context:
                    present[step.tag] = docker_client.build_image(
                        ep,
                        context=context,
                        tag=step.tag,
                        dockerfile=dockerfile,
                        labels={**plan.labels, LABEL_SERVICE: step.service},
                        on_log=tail.add,
                    )
        except (docker_client.NodeError, PlanError, OSError) as error:
            return _failed(state, plan.content_hash, tail, error)
        message = f"built {built} image(s)"
        images = _images(plan.run_images, present)
        _save(state, ImageStatus.BUILT, plan.content_hash, images, message, tail)
        return ImageOutcome(True, message, tail.text())


def challenge_pull(
    *, node: Node, plan: ChallengePlan, challenge, task=None
) -> ImageOutcome:
    """Pull the challenge's registry images onto `node`."""
    if not plan.pulls:
        return ImageOutcome(True, "nothing to pull")
    with _lease(node, challenge, ImageKind.PULL, task) as state:
        ep = node.endpoint()
        tail = _LogTail(state)
        _save(state, ImageStatus.PULLING, "", state.images)
        ids: dict[str, str] = {}
        try:
            for ref in plan.pulls:
                tail.add(f"== pulling {ref}\n")
                ids[ref] = docker_client.pull_image(ep, ref, on_log=tail.add)
        except docker_client.NodeError as error:
            return _failed(state, "", tail, error)
        message = f"pulled {len(ids)} image(s)"
        images = _images(plan.pulled, ids)
        _save(state, ImageStatus.PULLED, "", images, message, tail)
        return ImageOutcome(True, message, tail.text())


def node_inventory(*, node: Node, plans: list[ChallengePlan]) -> ImageOutcome:
    """Record which challenges' images `node` holds now, in a few queries.

    A state row being built or pulled right now is left alone.
    """
    try:
        images = docker_client.list_images(node.endpoint())
    except docker_client.NodeError as error:
        return ImageOutcome(False, str(error), unreachable=True)
    by_ref: dict[str, str] = {}
    for image in images:
        for ref in (*image.tags, *image.digests):
            by_ref[_normal(ref)] = image.id
    now = timezone.now()
    # A lease past its time was left by a worker that died: free the row.
    NodeChallengeState.objects.filter(node=node, lease_until__lt=now).exclude(
        lease=""
    ).update(lease="", lease_until=None)
    existing = {
        (s.challenge_id, s.kind): s
        for s in NodeChallengeState.objects.filter(node=node, lease="")
    }
    leased = set(
        NodeChallengeState.objects.filter(node=node)
        .exclude(lease="")
        .values_list("challenge_id", "kind")
    )
    create, update = [], []
    counts = {"built": 0, "builds": 0, "pulled": 0, "pulls": 0}
    for plan in plans:
        for kind, refs in (
            (ImageKind.BUILD, [step.tag for step in plan.builds]),
            (ImageKind.PULL, list(plan.pulls)),
        ):
            if not refs or (plan.challenge_id, kind) in leased:
                continue
            found = {ref: by_ref.get(_normal(ref)) for ref in refs}
            state = existing.get((plan.challenge_id, kind))
            values = _inventory_state(kind, plan, found, state)
            counts["builds" if kind == ImageKind.BUILD else "pulls"] += 1
            if values["status"] in (ImageStatus.BUILT, ImageStatus.PULLED):
                counts["built" if kind == ImageKind.BUILD else "pulled"] += 1
            if state is None:
                create.append(
                    NodeChallengeState(
                        node=node,
                        challenge_id=plan.challenge_id,
                        kind=kind,
                        updated_at=now,
                        **values,
                    )
                )
            elif any(getattr(state, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(state, key, value)
                state.updated_at = now
                update.append(state)
    NodeChallengeState.objects.bulk_create(
        create, ignore_conflicts=True, batch_size=500
    )
    NodeChallengeState.objects.bulk_update(
        update,
        ["status", "content_hash", "images", "message", "updated_at"],
        batch_size=500,
    )
    return ImageOutcome(
        True,
        f"{len(images)} image(s) on the node; {counts['built']} of {counts['builds']} "
        f"challenge(s) built, {counts['pulled']} of {counts['pulls']} pulled",
    )


def _inventory_state(kind, plan, found, state) -> dict:
    """Return the state fields the images found on the node call for."""
    if kind == ImageKind.BUILD:
        done, content_hash = ImageStatus.BUILT, plan.content_hash
        images = _images(plan.run_images, found) if all(found.values()) else {}
    else:
        done, content_hash = ImageStatus.PULLED, ""
        images = _images(plan.pulled, found) if all(found.values()) else {}
    if all(found.values()):
        return {
            "status": done,
            "content_hash": content_hash,
            "images": images,
            "message": "found on the node",
        }
    old = state.status if state else ImageStatus.PENDING
    if old == ImageStatus.FAILED and (state.content_hash == content_hash):
        return {
            "status": old,
            "content_hash": content_hash,
            "images": {},
            "message": state.message,
        }
    if state is not None and state.content_hash and state.content_hash != content_hash:
        why = "the source changed since the last build"
    elif old in (ImageStatus.BUILT, ImageStatus.PULLED):
        why = "the image is no longer on the node"
    else:
        why = "not built yet" if kind == ImageKind.BUILD else "not pulled yet"
    return {
        "status": ImageStatus.PENDING,
        "content_hash": content_hash,
        "images": {},
        "message": why,
    }


def _images(by_service: dict[str, str], ids: dict[str, str | None]) -> dict:
    """{service: {"ref", "id"}} for the services whose reference is in `ids`."""
    return {
        service: {"ref": ref, "id": ids[ref]}
        for service, ref in by_service.items()
        if ref in ids
    }


def _normal(ref: str) -> str:
    """Write a reference as the engine lists it (docker.io/library/x -> x:latest)."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    name = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in name:
        ref += ":latest"
    return ref


def _unreachable(error: Exception) -> bool:
    return isinstance(error, docker_client.NodeUnreachable)


def _save(state, status, content_hash, images, message="", tail=None) -> None:
    fields = {
        "status": status,
        "content_hash": content_hash,
        "images": images,
        "message": message[:500],
        "log_tail": tail.text() if tail else "",
        "updated_at": timezone.now(),
    }
    NodeChallengeState.objects.filter(pk=state.pk).update(**fields)
    for key, value in fields.items():
        setattr(state, key, value)


def _failed(state, content_hash, tail, error: Exception) -> ImageOutcome:
    tail.add(f"ERROR: {error}\n")
    _save(state, ImageStatus.FAILED, content_hash, {}, str(error), tail)
    return ImageOutcome(False, str(error), tail.text(), _unreachable(error))


# Leases: the per-node, per-challenge lock.

_held: set[str] = set()
_held_lock = threading.Lock()


def lease_seconds() -> int:
    return settings.NODES_STALE_AFTER


def leases_renew() -> int:
    """Push back the expiry of every lease this process holds (the heartbeat)."""
    with _held_lock:
        tokens = list(_held)
    if not tokens:
        return 0
    until = timezone.now() + timedelta(seconds=lease_seconds())
    return NodeChallengeState.objects.filter(lease__in=tokens).update(lease_until=until)


@contextmanager
def _lease(node: Node, challenge, kind: str, task) -> Iterator[NodeChallengeState]:
    """Hold the (node, challenge, kind) row; wait while another worker holds it."""
    state = _state_row(node, challenge, kind)
    token = uuid.uuid4().hex
    deadline = time.monotonic() + 4 * lease_seconds()
    while True:
        now = timezone.now()
        claimed = (
            NodeChallengeState.objects.filter(pk=state.pk)
            .filter(Q(lease="") | Q(lease_until__lt=now))
            .update(
                lease=token,
                lease_until=now + timedelta(seconds=lease_seconds()),
                task=task,
            )
        )
        if claimed:
            break
        if time.monotonic() > deadline:
            raise Busy(f"another task has held {challenge} on {node} for too long")
        time.sleep(0.25)
    with _held_lock:
        _held.add(token)
    try:
        state.refresh_from_db()
        yield state
    finally:
        with _held_lock:
            _held.discard(token)
        NodeChallengeState.objects.filter(pk=state.pk, lease=token).update(
            lease="", lease_until=None
        )


def _state_row(node: Node, challenge, kind: str) -> NodeChallengeState:
    try:
        state, _ = NodeChallengeState.objects.get_or_create(
            node=node, challenge=challenge, kind=kind
        )
    except IntegrityError:  # created by a concurrent worker just now
        state = NodeChallengeState.objects.get(
            node=node, challenge=challenge, kind=kind
        )
    return state


class _LogTail:
    """The last lines of a build or pull log, written to the row now and then."""

    def __init__(self, state: NodeChallengeState) -> None:
        self.state = state
        self.lines: list[str] = []
        self.flushed = time.monotonic()

    def add(self, text: str) -> None:
        for line in text.splitlines(keepends=True):
            if self.lines and not self.lines[-1].endswith("\n"):
                self.lines[-1] += line
            else:
                self.lines.append(line)
        del self.lines[:-LOG_TAIL_LINES]
        if time.monotonic() - self.flushed > LOG_FLUSH_SECONDS:
            self.flushed = time.monotonic()
            NodeChallengeState.objects.filter(pk=self.state.pk).update(
                log_tail=self.text()
            )

    def text(self) -> str:
        return "".join(self.lines)[-LOG_TAIL_CHARS:]
