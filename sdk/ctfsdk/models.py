"""Typed answers of the API: one dataclass per schema component (its name in
`SCHEMA`, which the platform's tests compare field by field with the OpenAPI
schema at /api/v1/schema/). Fields a newer server adds are ignored."""

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from ctfsdk.errors import CtfSdkError

T = TypeVar("T")


class UnexpectedAnswer(CtfSdkError):
    """The server's answer lacks a field this client needs (an older server)."""


def parse(cls, data):
    """`data` (decoded JSON) as an instance of `cls`: a dataclass, list[...],
    X | None, datetime, or a plain JSON type."""
    if data is None:
        return None
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(cls) if arg is not type(None)]
        return parse(inner, data)
    if origin is list:
        (item,) = typing.get_args(cls)
        return [parse(item, value) for value in data]
    if origin is dict:
        _, item = typing.get_args(cls)
        return {key: parse(item, value) for key, value in data.items()}
    if origin is not None and dataclasses.is_dataclass(origin):  # Page[X]
        params = dict(zip(origin.__parameters__, typing.get_args(cls), strict=True))
        return _instance(origin, data, lambda hint: _bind(hint, params))
    if dataclasses.is_dataclass(cls):
        return _instance(cls, data, lambda hint: hint)
    if cls is datetime:
        return datetime.fromisoformat(data)
    return data


def _optional(hint) -> bool:
    return type(None) in typing.get_args(hint)


def _instance(cls, data: dict, bind):
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        hint = bind(hints[field.name])
        if field.name not in data and not _optional(hint):
            raise UnexpectedAnswer(f"{cls.__name__} without {field.name!r}: {data}")
        values[field.name] = parse(hint, data.get(field.name))
    return cls(**values)


def _bind(hint, params: dict):
    if isinstance(hint, TypeVar):
        return params[hint]
    args = typing.get_args(hint)
    if args and typing.get_origin(hint) is list:
        return list[_bind(args[0], params)]
    return hint


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: `items`, and where it stands among `total`."""

    SCHEMA = "Paginated*List"

    items: list[T]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


# Players


@dataclass(frozen=True)
class Team:
    SCHEMA = "Team"
    id: int
    name: str
    captain: str


@dataclass(frozen=True)
class MePrincipal:
    SCHEMA = "MePrincipal"
    id: int
    kind: str
    name: str
    score: int
    banned: bool


@dataclass(frozen=True)
class Me:
    SCHEMA = "MeResponse"
    id: int
    username: str
    email: str
    is_staff: bool
    team: Team | None
    is_captain: bool
    principal: MePrincipal | None
    score: int


@dataclass(frozen=True)
class Card:
    """A board card; name, category and points are None on an anonymous card."""

    SCHEMA = "Card"
    id: int
    name: str | None
    category: str | None
    points: int | None
    solve_count: int | None
    solved: bool
    locked: bool
    explanation: str


@dataclass(frozen=True)
class File:
    SCHEMA = "File"
    id: int
    name: str
    size: int
    sha256: str
    url: str


@dataclass(frozen=True)
class Hint:
    SCHEMA = "Hint"
    id: int
    title: str
    cost: int
    content: str | None
    content_html: str | None


@dataclass(frozen=True)
class Question:
    SCHEMA = "Question"
    id: int
    key: str
    name: str
    points: int
    solved: bool


@dataclass(frozen=True)
class Challenge(Card):
    SCHEMA = "Challenge"
    author: str
    description_html: str
    connection_info: str
    tags: list[str]
    files: list[File]
    hints: list[Hint]
    questions: list[Question]


@dataclass(frozen=True)
class AttemptResult:
    """`result` is correct, wrong, already_solved, rate_limited or refused."""

    SCHEMA = "AttemptResult"
    result: str
    message: str
    points: int
    retry_after: int | None
    first_blood_bonus: int | None


@dataclass(frozen=True)
class AnnouncedChallenge:
    SCHEMA = "AnnouncedChallenge"
    id: int
    name: str


@dataclass(frozen=True)
class Announcement:
    SCHEMA = "Announcement"
    id: int
    title: str
    body: str
    body_html: str
    challenge: AnnouncedChallenge | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ScoreboardRow:
    SCHEMA = "Row"
    rank: int
    principal_id: int
    name: str
    kind: str
    score: int
    solves: int
    last_solve_at: datetime | None


@dataclass(frozen=True)
class Scoreboard:
    """A page of the standings, frozen while the competition is; `mine` is
    the caller's own row."""

    SCHEMA = "Scoreboard"
    items: list[ScoreboardRow]
    total: int
    offset: int
    limit: int
    frozen: bool
    freeze_at: datetime | None
    mine: ScoreboardRow | None


# Organizers


@dataclass(frozen=True)
class AdminChallenge:
    SCHEMA = "AdminChallenge"
    id: int
    name: str
    category: str
    type: str
    value: int
    state: str
    position: int
    identity: str
    spec_path: str
    from_catalog: bool
    is_missing: bool
    requirement: str
    locked_visibility: str
    question_count: int
    spec_error: str
    requirement_error: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AdminQuestion:
    SCHEMA = "AdminQuestion"
    id: int
    key: str
    name: str
    points: int
    attempts: int
    flag_kinds: list[str]


@dataclass(frozen=True)
class AdminHint:
    SCHEMA = "AdminHint"
    id: int
    title: str
    cost: int


@dataclass(frozen=True)
class AdminFile:
    SCHEMA = "AdminFile"
    id: int
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class AdminChallengeDetail(AdminChallenge):
    SCHEMA = "AdminChallengeDetail"
    author: str
    description: str
    connection_info: str
    tags: list[str]
    topics: list[str]
    next_ref: str
    services: dict[str, Any]
    questions: list[AdminQuestion]
    hints: list[AdminHint]
    files: list[AdminFile]


@dataclass(frozen=True)
class StateChange:
    SCHEMA = "StateChange"
    changed: bool
    challenge: AdminChallenge


@dataclass(frozen=True)
class SpecProblem:
    SCHEMA = "Rejected"
    path: str
    line: int | None
    field: str | None
    error: str


@dataclass(frozen=True)
class SpecWarning:
    SCHEMA = "Warning"
    path: str
    line: int | None
    message: str


@dataclass(frozen=True)
class RescanReport:
    SCHEMA = "RescanReport"
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    hidden: list[str]
    rejected: list[SpecProblem]
    warnings: list[SpecWarning]
    dry_run: bool
    summary: str


@dataclass(frozen=True)
class FirstBlood:
    SCHEMA = "FirstBlood"
    principal_id: int
    principal: str
    at: datetime


@dataclass(frozen=True)
class ChallengeStats:
    SCHEMA = "ChallengeStats"
    challenge_id: int
    name: str
    category: str
    in_play: bool
    attempts: int
    wrong: int
    solves: int
    first_blood: FirstBlood | None


@dataclass(frozen=True)
class Bucket:
    SCHEMA = "Bucket"
    start: datetime
    attempts: int
    wrong: int
    solves: int


@dataclass(frozen=True)
class Timeseries:
    SCHEMA = "Series"
    challenge_id: int
    start: datetime
    end: datetime
    bucket: int
    buckets: list[Bucket]


@dataclass(frozen=True)
class Feedback:
    SCHEMA = "Feedback"
    id: int
    competition_id: int
    user_id: int
    user: str
    email: str
    team_id: int | None
    team: str | None
    reaction: str
    vote: int
    comment: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AttemptReset:
    SCHEMA = "AttemptReset"
    id: int
    team_id: int
    principal_id: int
    competition_id: int
    challenge_id: int
    question_id: int
    reason: str
    admin: str | None
    created_at: datetime


@dataclass(frozen=True)
class Competition:
    SCHEMA = "Competition"
    id: int
    name: str
    slug: str
    is_default: bool
    play_mode: str
    starts_at: datetime | None
    ends_at: datetime | None
    freeze_at: datetime | None
    frozen: bool
    phase: str
    next_change: datetime | None


@dataclass(frozen=True)
class Principal:
    SCHEMA = "Principal"
    id: int
    competition_id: int
    kind: str
    name: str
    team_id: int | None
    user_id: int | None
    score: int
    solve_count: int
    last_solve_at: datetime | None
    is_banned: bool
    is_hidden: bool
    created_at: datetime


@dataclass(frozen=True)
class PrincipalChange:
    SCHEMA = "PrincipalChange"
    changed: bool
    principal: Principal


@dataclass(frozen=True)
class Submission:
    SCHEMA = "Submission"
    id: int
    created_at: datetime
    principal_id: int | None
    principal: str | None
    user_id: int | None
    user: str | None
    challenge_id: int
    challenge: str
    question_id: int
    question: str
    result: str
    reason: str
    points: int
    ip: str | None
    flag_sha256: str


@dataclass(frozen=True)
class Event:
    SCHEMA = "Event"
    id: int
    created_at: datetime
    event_type: str
    severity: str
    actor: str | None
    user: str | None
    team_id: int | None
    principal_id: int | None
    subject: str
    message: str
    details: dict[str, Any]
    ip: str | None


# Background tasks, build and pull state, nodes


@dataclass(frozen=True)
class TaskProgress:
    SCHEMA = "TaskProgress"
    done: int
    total: int


@dataclass(frozen=True)
class TaskOutcome:
    """One unit of a task: a challenge on a node (None: the node's inventory)."""

    SCHEMA = "TaskOutcome"
    challenge_id: int | None
    challenge: str | None
    status: str
    message: str
    log_tail: str
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class TaskNode:
    SCHEMA = "TaskNode"
    status: str
    done: int
    total: int
    outcomes: list[TaskOutcome]


@dataclass(frozen=True)
class Task:
    """A background task (rescan, build, build_all, pull, pull_all); `status`
    is queued or running until it is succeeded, partial or failed."""

    SCHEMA = "Task"
    FINISHED = ("succeeded", "partial", "failed")

    id: int
    kind: str
    status: str
    progress: TaskProgress
    parameters: dict[str, Any]
    nodes: dict[str, TaskNode]
    result: dict[str, Any]
    error: str
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class NodeImageState:
    SCHEMA = "NodeImageState"
    node: str
    node_id: int
    status: str
    content_hash: str
    images: dict[str, Any]
    message: str
    log_tail: str
    updated_at: datetime | None


@dataclass(frozen=True)
class ImageState:
    """A challenge's build (or pull) state: the worst case over online nodes
    ("none": nothing to build or pull), and each node's."""

    SCHEMA = "ImageState"
    challenge_id: int
    challenge: str
    kind: str
    status: str
    nodes: list[NodeImageState]


@dataclass(frozen=True)
class Node:
    SCHEMA = "Node"
    id: int
    name: str
    url: str
    tls: bool
    public_address: str
    labels: dict[str, Any]
    capacity: int
    enabled: bool
    status: str
    detail: str
    engine_version: str
    cpus: int | None
    memory: int | None
    disk_free: int | None
    last_seen_at: datetime | None


# Instances


@dataclass(frozen=True)
class InstancePort:
    SCHEMA = "InstancePort"
    service: str
    port: int
    host_port: int


@dataclass(frozen=True)
class Instance:
    """A per-team instance as its player sees it: `status` is starting,
    running, stopping, stopped, expired, failed or lost; `connection` says how
    to connect once it runs."""

    SCHEMA = "Instance"
    id: int
    status: str
    message: str
    host: str
    ports: list[InstancePort]
    connection: str
    expires_at: datetime | None
    seconds_left: int | None
    can_extend: bool
    extensions_left: int
    requested_at: datetime
    running_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.status in ("starting", "running")


@dataclass(frozen=True)
class Named:
    SCHEMA = "Named"
    id: int
    name: str


@dataclass(frozen=True)
class InstanceRecord(Instance):
    SCHEMA = "InstanceRecord"
    principal: Named
    challenge: Named
    competition: int
    node: str | None
    error: str
    log_tail: str
    containers: dict[str, str]
    network: str
    latency_ms: int | None
    connect_ms: int | None
    connected_at: datetime | None
    extensions: int
    started_by: str | None
    stopped_at: datetime | None


@dataclass(frozen=True)
class LatencyBucket:
    """Starts that took at most `le_ms` (None: longer than the last bound)."""

    SCHEMA = "LatencyBucket"
    le_ms: int | None
    count: int


@dataclass(frozen=True)
class Latency:
    SCHEMA = "Latency"
    buckets: list[LatencyBucket]
