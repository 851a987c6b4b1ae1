"""What a challenge needs on a node: images to build and pull, their tags, and
the content hash that names them. Reads the catalog on disk, talks to no node.

The hash covers the challenge's content hash (spec, compose file, handouts),
its stored services, and every file Docker would receive of each build context
(`.dockerignore` honoured) and of each bind-mounted source. Built images are
tagged `ctfplatform/<challenge>/<service>:<hash[:16]>` and labelled with the
full hash, so an unchanged challenge is found on a node and not rebuilt.

A service with bind mounts of the challenge folder gets a thin image on top of
its own (built or pulled) one, with those files copied in: their content
reaches the container on any node, as `docker compose` would mount it locally.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nodes.docker_client import context_paths

LABEL_CHALLENGE = "org.ctfplatform.challenge"
LABEL_SERVICE = "org.ctfplatform.service"
LABEL_HASH = "org.ctfplatform.hash"
REPOSITORY_PREFIX = "ctfplatform"
_NOT_NAME = re.compile(r"[^a-z0-9]+")


class PlanError(Exception):
    """The challenge folder on disk cannot give what the stored spec names."""


@dataclass(frozen=True)
class BuildStep:
    """One image to build on a node: from a Dockerfile, or a thin bind layer."""

    service: str
    tag: str
    # A Dockerfile build: the context folder (absolute) and the Dockerfile in it.
    context: str = ""
    dockerfile: str = "Dockerfile"
    # A thin layer: the image to start from and the binds to copy in.
    base: str = ""
    binds: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ChallengePlan:
    challenge_id: int
    identity: str
    content_hash: str
    builds: tuple[BuildStep, ...]
    # The registry reference each pulling service pulls (its image, or the base
    # of its thin layer), by service name.
    pulled: dict[str, str]
    # The image each service runs, by service name.
    run_images: dict[str, str]
    # What is missing on disk; a build fails with these, the hash still holds.
    problems: tuple[str, ...] = ()

    @property
    def pulls(self) -> tuple[str, ...]:
        """Registry references to pull, each once."""
        return tuple(dict.fromkeys(self.pulled.values()))

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_CHALLENGE: self.identity, LABEL_HASH: self.content_hash}


def challenge_plan(challenge, catalog_root: Path | str) -> ChallengePlan:
    """Return the plan of a Challenge row (identity, content_hash, services)."""
    services = (challenge.services or {}).get("services") or []
    folder = _challenge_folder(Path(catalog_root), challenge.identity)
    digest = hashlib.sha256()
    digest.update(f"challenge {challenge.content_hash}\n".encode())
    digest.update(json.dumps(services, sort_keys=True).encode() + b"\n")
    problems: list[str] = []
    for service in services:
        if service.get("build"):
            context = os.path.join(folder, service["build"])
            if os.path.isdir(context):
                dockerfile = service.get("dockerfile") or "Dockerfile"
                paths = context_paths(context, dockerfile)
                _hash_tree(digest, f"build {service['name']}", context, paths)
            else:
                problems.append(
                    f"service {service['name']}: build context "
                    f"{service['build']!r} does not exist in {folder}"
                )
        for bind in service.get("binds") or ():
            source = os.path.join(folder, bind["source"])
            _hash_tree(digest, f"bind {bind['source']}", source, _walk(source))
    content_hash = digest.hexdigest()

    builds: list[BuildStep] = []
    pulled: dict[str, str] = {}
    run_images: dict[str, str] = {}
    for service in services:
        name = service["name"]
        tag = image_tag(challenge.identity, name, content_hash)
        binds = tuple(service.get("binds") or ())
        if service.get("build"):
            own = f"{tag}-base" if binds else tag
            builds.append(
                BuildStep(
                    service=name,
                    tag=own,
                    context=os.path.join(folder, service["build"]),
                    dockerfile=service.get("dockerfile") or "Dockerfile",
                )
            )
        else:
            own = pulled[name] = service["image"]
        if binds:
            builds.append(
                BuildStep(
                    service=name,
                    tag=tag,
                    base=own,
                    context=folder,
                    binds=binds,
                )
            )
        run_images[name] = tag if (binds or service.get("build")) else own
    return ChallengePlan(
        challenge_id=challenge.pk,
        identity=challenge.identity,
        content_hash=content_hash,
        builds=tuple(builds),
        pulled=pulled,
        run_images=run_images,
        problems=tuple(problems),
    )


def needs_images(challenge, kind: str) -> bool:
    """Whether the challenge has anything to `kind` ("build" or "pull")."""
    services = (challenge.services or {}).get("services") or ()
    if kind == "build":
        return any(s.get("build") or s.get("binds") for s in services)
    return any(s.get("image") for s in services)


def image_tag(identity: str, service: str, content_hash: str) -> str:
    """Return `ctfplatform/<challenge>/<service>:<hash[:16]>` (a valid reference)."""
    parts = [_name(p) for p in identity.split("/") if p not in ("", ".")]
    challenge = "/".join(p for p in parts if p) or "root"
    service = _name(service) or "service"
    return f"{REPOSITORY_PREFIX}/{challenge}/{service}:{content_hash[:16]}"


def build_context(step: BuildStep) -> tuple[IO[bytes], str]:
    """Return (tar stream, Dockerfile name in it) for one build step."""
    if not os.path.isdir(step.context):
        raise PlanError(f"build context {step.context} does not exist")
    archive = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115
    with tarfile.open(fileobj=archive, mode="w") as tar:
        if step.base:
            dockerfile = _thin_layer(tar, step)
        else:
            for path in context_paths(step.context, step.dockerfile):
                _add(tar, os.path.join(step.context, path), path)
            dockerfile = step.dockerfile
    archive.seek(0)
    return archive, dockerfile


def _thin_layer(tar: tarfile.TarFile, step: BuildStep) -> str:
    """Copy each bind source in as b<N>; return the generated Dockerfile's name."""
    lines = [f"FROM {step.base}"]
    for index, bind in enumerate(step.binds):
        source = os.path.join(step.context, bind["source"])
        name = f"b{index}"
        if os.path.isfile(source):
            _add(tar, source, name)
            lines.append(f"COPY {json.dumps([name, bind['target']])}")
            continue
        _add_folder(tar, name)
        if os.path.isdir(source):
            for path in _walk(source):
                _add(tar, os.path.join(source, path), f"{name}/{path}")
        target = bind["target"].rstrip("/") + "/"
        lines.append(f"COPY {json.dumps([name + '/', target])}")
    text = ("\n".join(lines) + "\n").encode()
    info = tarfile.TarInfo(".ctfplatform.Dockerfile")
    info.size = len(text)
    tar.addfile(info, io.BytesIO(text))
    return info.name


def _add(tar: tarfile.TarFile, full: str, arcname: str) -> None:
    info = tar.gettarinfo(full, arcname=arcname)
    if info is None:
        return  # a socket or other special file: Docker skips them too
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isfile():
        with open(full, "rb") as handle:
            tar.addfile(info, handle)
    else:
        tar.addfile(info)  # folders and symlinks (kept as links, never followed)


def _add_folder(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _challenge_folder(root: Path, identity: str) -> str:
    return str(root) if identity in ("", ".") else str(root / identity)


def _name(text: str) -> str:
    return _NOT_NAME.sub("-", text.lower()).strip("-")


def _walk(root: str) -> list[str]:
    """Return paths below `root` (files, folders, links), relative and sorted."""
    if os.path.isfile(root) or os.path.islink(root):
        return [""]
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        for name in dirs + files:
            found.append(name if relative == "." else f"{relative}/{name}")
    return sorted(found)


_digests: dict[str, tuple[int, int, int, str]] = {}
_digests_lock = threading.Lock()


def _hash_tree(digest: Any, label: str, root: str, paths: list[str]) -> None:
    """Feed each path's kind and content into `digest` (mtime is not content)."""
    digest.update(f"{label}\n".encode())
    for path in paths:
        full = os.path.join(root, path) if path else root
        try:
            info = os.lstat(full)
        except OSError:
            digest.update(f"missing {path}\n".encode())
            continue
        if stat.S_ISLNK(info.st_mode):
            digest.update(f"link {path} {os.readlink(full)}\n".encode())
        elif stat.S_ISDIR(info.st_mode):
            digest.update(f"dir {path}\n".encode())
        elif stat.S_ISREG(info.st_mode):
            mode = "x" if info.st_mode & 0o111 else "-"
            digest.update(f"file {path} {mode} {_file_sha(full, info)}\n".encode())


def _file_sha(full: str, info: os.stat_result) -> str:
    """sha256 of a file, reused while its size, mtime and inode are unchanged."""
    key = (info.st_size, info.st_mtime_ns, info.st_ino)
    with _digests_lock:
        cached = _digests.get(full)
    if cached is not None and cached[:3] == key:
        return cached[3]
    sha = hashlib.sha256()
    with open(full, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    with _digests_lock:
        _digests[full] = (*key, sha.hexdigest())
    return sha.hexdigest()
