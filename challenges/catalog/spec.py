"""What a challenge spec loads into: frozen dataclasses, problems and warnings.

Nothing here touches the disk or Django; `loader.py` builds these values and the
rescan service applies them to the database. The file format is in FORMAT.md.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAG_KINDS = ("static", "regex", "case_insensitive", "derived")
CHALLENGE_TYPES = ("standard", "dynamic")
STATES = ("visible", "hidden")
LOCKED_VISIBILITIES = ("hidden", "locked", "preview")
DECAY_FUNCTIONS = ("linear", "logarithmic")


def normalize_name(name: str) -> str:
    """Return the form challenge names are matched in: NFKC, casefolded, one space.

    Emoji survive both steps, so "🔥 Warmup" and "🔥 WARMUP" match.
    """
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass(frozen=True)
class FlagSpec:
    """One accepted answer; `template` is set only for derived flags."""

    kind: str  # one of FLAG_KINDS
    content: str = ""
    template: str = ""


@dataclass(frozen=True)
class QuestionSpec:
    """One scorable part of a challenge; `attempts` 0 means no cap."""

    key: str
    name: str
    points: int
    attempts: int
    flags: tuple[FlagSpec, ...]


@dataclass(frozen=True)
class Hint:
    title: str
    content: str
    cost: int = 0


@dataclass(frozen=True)
class FileRef:
    """A handed-out file. `relative_path` is relative to the challenge folder."""

    relative_path: str
    absolute_path: Path
    size: int
    sha256: str
    is_text: bool
    # `{flag:<key>}` placeholders found in a text file, for the platform to render.
    placeholders: tuple[str, ...] = ()
    # Only a shortcut for cache checks: git checkouts reset it, so never compared.
    mtime_ns: int = field(default=0, compare=False)

    @property
    def name(self) -> str:
        return self.relative_path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DynamicScoring:
    initial: int
    decay: int
    minimum: int
    function: str = "logarithmic"


@dataclass(frozen=True)
class BindMount:
    """A compose bind mount of the challenge folder, carried into the image.

    `source` is relative to the challenge folder; a missing one becomes an empty
    folder, as compose would make it.
    """

    source: str
    target: str
    read_only: bool = False
    exists: bool = True


@dataclass(frozen=True)
class ServiceSpec:
    """A container to build (`build` set) or pull (`image` set).

    `privileged` and `cap_add` beyond Docker's defaults load, but instances of
    the challenge start only once an organizer trusts it.
    """

    name: str
    image: str = ""
    # Build context relative to the challenge folder ("." is the folder itself).
    build: str = ""
    # Dockerfile path relative to the build context.
    dockerfile: str = ""
    ports: tuple[int, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    cap_add: tuple[str, ...] = ()
    privileged: bool = False
    binds: tuple[BindMount, ...] = ()

    @property
    def is_build(self) -> bool:
        return bool(self.build)


INSTANCE_FLAGS = ("derived", "dynamic")


@dataclass(frozen=True)
class InstanceSpec:
    """Per-team instance settings.

    None lifetime means the competition's (else 30 minutes); None memory or
    cpus means the platform's default. `flag` "dynamic" issues a fresh flag
    per start for the challenge's derived questions (the old one is rotated).
    """

    lifetime: int | None = None
    memory: int | None = None
    cpus: float | None = None
    ports: tuple[int, ...] = ()
    flag_env: str = "FLAG"
    flag: str = "derived"
    no_egress: bool = False
    pids: int | None = None
    read_only: bool = False


@dataclass(frozen=True)
class NameRef:
    """A challenge named by a spec field: a name, or a CTFd-style id."""

    field: str
    ref: str | int
    line: int | None = None


@dataclass(frozen=True)
class ChallengeSpec:
    """One loaded challenge.

    `content_hash` covers the spec bytes, the compose file and every handed-out
    file's sha256, so a changed handout is a changed challenge; `spec_sha256` is
    the spec file's bytes alone.
    """

    identity: str
    path: str
    content_hash: str
    spec_sha256: str
    name: str
    author: str = ""
    category: str = ""
    description: str = ""
    attribution: str = ""
    type: str = "standard"
    value: int = 0
    extra: DynamicScoring | None = None
    connection_info: str = ""
    protocol: str = ""
    host: str = ""
    healthcheck: str = ""
    state: str = "visible"
    version: str = ""
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    hints: tuple[Hint, ...] = ()
    files: tuple[FileRef, ...] = ()
    questions: tuple[QuestionSpec, ...] = ()
    prerequisites: tuple[str | int, ...] = ()
    requirement_text: str = ""
    locked_visibility: str = "hidden"
    next: str | int | None = None
    image: str = ""
    services: tuple[ServiceSpec, ...] = ()
    compose: tuple[ServiceSpec, ...] = ()
    compose_file: str = ""
    instance: InstanceSpec | None = None
    # The compose file's sha256 ("" without one), for cache checks.
    compose_sha256: str = ""
    # Warnings from loading, kept so a cached spec reports them again.
    warnings: tuple[SpecWarning, ...] = field(default=(), compare=False)
    # The challenges `requirements` and `next` name, where they are written,
    # so the rescan can report a name that matches no challenge.
    references: tuple[NameRef, ...] = field(default=(), compare=False)
    name_line: int | None = field(default=None, compare=False)

    @property
    def normalized_name(self) -> str:
        return normalize_name(self.name)


@dataclass(frozen=True)
class SpecProblem:
    """Why a spec was rejected; line and col are 1-based, None when unknown."""

    path: str
    line: int | None
    col: int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "error": self.message,
        }

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        field_part = f" {self.field}:" if self.field else ""
        return f"{where}:{field_part} {self.message}"


@dataclass(frozen=True)
class SpecWarning:
    """Something odd that still loaded."""

    path: str
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class SpecRejected(Exception):
    """A spec that cannot be loaded; `problems` say where and why (the first is
    `problem`)."""

    def __init__(self, problem: SpecProblem, *more: SpecProblem) -> None:
        super().__init__("\n".join(str(p) for p in (problem, *more)))
        self.problem = problem
        self.problems = (problem, *more)
