"""`Client(base_url, token)`: the platform's API as methods with typed answers.

Player routes hang off the client (`me`, `challenges`, `scoreboard`,
`announcements`), organizer routes off `client.admin` (staff tokens only). A
namespace is a small class per area.
"""

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Literal, overload

from ctfsdk import models
from ctfsdk.errors import NotFound, TaskTimeout
from ctfsdk.http import Transport
from ctfsdk.models import Page, parse


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class _Area:
    def __init__(self, transport: Transport):
        self._http = transport

    def _get(self, model, path: str, **params):
        return parse(model, self._http.request("GET", path, params=params))

    def _post(self, model, path: str, body: dict | None = None, **params):
        answer = self._http.request("POST", path, params=params, body=body or {})
        return parse(model, answer)


class Challenges(_Area):
    """The board and its challenges, as the token's user sees them."""

    def list(self, offset: int = 0, limit: int = 50) -> Page[models.Card]:
        return self._get(Page[models.Card], "challenges", offset=offset, limit=limit)

    def get(self, challenge_id: int) -> models.Challenge:
        return self._get(models.Challenge, f"challenges/{challenge_id}")

    def attempt(
        self, challenge_id: int, flag: str, *, question: int | None = None
    ) -> models.AttemptResult:
        """Submit a flag; a lockout raises RateLimited (with `retry_after`)."""
        body = {"flag": flag} | ({"question": question} if question else {})
        return self._post(
            models.AttemptResult, f"challenges/{challenge_id}/attempt", body
        )

    def instance(self, challenge_id: int) -> models.Instance | None:
        """The caller's instance (the active one, else the latest), or None."""
        try:
            return self._get(models.Instance, f"challenges/{challenge_id}/instance")
        except NotFound as missing:
            if missing.error == "no_instance":
                return None
            raise

    def instance_start(self, challenge_id: int) -> models.Instance:
        """Start the caller's (team's) instance, or get the active one; a
        refusal raises Conflict (`error`: limit, no_node, over, ...)."""
        return self._post(models.Instance, f"challenges/{challenge_id}/instance")

    def instance_extend(self, challenge_id: int) -> models.Instance:
        return self._post(models.Instance, f"challenges/{challenge_id}/instance/extend")

    def instance_stop(self, challenge_id: int) -> models.Instance:
        answer = self._http.request("DELETE", f"challenges/{challenge_id}/instance")
        return parse(models.Instance, answer)

    def download(self, challenge_id: int, file_id: int) -> bytes:
        """A handout's bytes (text ones with the caller's flags filled in)."""
        return self._http.request(
            "GET", f"challenges/{challenge_id}/files/{file_id}", raw=True
        )


class AdminChallenges(_Area):
    def list(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        state: str | None = None,
        category: str | None = None,
        search: str | None = None,
        problem: bool | None = None,
    ) -> Page[models.AdminChallenge]:
        return self._get(
            Page[models.AdminChallenge],
            "admin/challenges",
            offset=offset,
            limit=limit,
            state=state,
            category=category,
            search=search,
            problem=problem,
        )

    def get(self, challenge_id: int) -> models.AdminChallengeDetail:
        return self._get(
            models.AdminChallengeDetail, f"admin/challenges/{challenge_id}"
        )

    def hide(self, challenge_id: int) -> models.StateChange:
        return self._post(models.StateChange, f"admin/challenges/{challenge_id}/hide")

    def show(self, challenge_id: int) -> models.StateChange:
        return self._post(models.StateChange, f"admin/challenges/{challenge_id}/show")

    @overload
    def rescan(self, *, dry_run: Literal[False] = False) -> models.Task: ...
    @overload
    def rescan(self, *, dry_run: Literal[True]) -> models.RescanReport: ...

    def rescan(self, *, dry_run: bool = False):
        """Reload the catalog and ask every node what it holds: a task (its
        `result["catalog"]` is the report once done). `dry_run=True` answers
        at once what would change, as a RescanReport, and changes nothing."""
        model = models.RescanReport if dry_run else models.Task
        return self._post(model, "admin/challenges/rescan", {"dry_run": dry_run})

    def build(self, challenge_id: int) -> models.Task:
        """Build the challenge's images on every enabled node (a task)."""
        return self._post(models.Task, f"admin/challenges/{challenge_id}/build")

    def build_all(self, *, competition_id: int | None = None) -> models.Task:
        """Build every challenge (or a competition's) on every node (a task)."""
        return self._post(
            models.Task, "admin/challenges/build-all", competition_id=competition_id
        )

    def pull(self, challenge_id: int) -> models.Task:
        """Pull the challenge's registry images on every enabled node (a task)."""
        return self._post(models.Task, f"admin/challenges/{challenge_id}/pull")

    def pull_all(self, *, competition_id: int | None = None) -> models.Task:
        return self._post(
            models.Task, "admin/challenges/pull-all", competition_id=competition_id
        )

    def latency_histogram(
        self, *, challenge_id: int | None = None, competition_id: int | None = None
    ) -> models.Latency:
        """Instance starts' request-to-running times in fixed buckets."""
        return self._get(
            models.Latency,
            "admin/challenges/latency-histogram",
            challenge_id=challenge_id,
            competition_id=competition_id,
        )

    def build_state(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        competition_id: int | None = None,
        status: str | None = None,
    ) -> Page[models.ImageState]:
        """Each challenge's build state, worst case over online nodes, and
        per node; `status` keeps only challenges in that aggregate status."""
        return self._get(
            Page[models.ImageState],
            "admin/challenges/build-state",
            offset=offset,
            limit=limit,
            competition_id=competition_id,
            status=status,
        )

    def pull_state(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        competition_id: int | None = None,
        status: str | None = None,
    ) -> Page[models.ImageState]:
        return self._get(
            Page[models.ImageState],
            "admin/challenges/pull-state",
            offset=offset,
            limit=limit,
            competition_id=competition_id,
            status=status,
        )

    def stats(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        competition_id: int | None = None,
        ordering: str = "board",
    ) -> Page[models.ChallengeStats]:
        """Attempts, wrong attempts, solves and first blood per challenge;
        `ordering` is a column, "-" first for descending."""
        return self._get(
            Page[models.ChallengeStats],
            "admin/challenges/stats",
            offset=offset,
            limit=limit,
            competition_id=competition_id,
            ordering=ordering,
        )

    def timeseries(
        self,
        challenge_id: int,
        *,
        window: int = 86400,
        bucket: int = 3600,
        competition_id: int | None = None,
    ) -> models.Timeseries:
        """Attempts and solves per `bucket` seconds over the last `window`."""
        return self._get(
            models.Timeseries,
            f"admin/challenges/{challenge_id}/timeseries",
            window=window,
            bucket=bucket,
            competition_id=competition_id,
        )

    def feedback(
        self,
        challenge_id: int,
        *,
        competition_id: int | None = None,
        reaction: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[models.Feedback]:
        """Players' reactions (`reaction`: "up" or "down"), newest first."""
        return self._get(
            Page[models.Feedback],
            f"admin/challenges/{challenge_id}/feedback",
            competition_id=competition_id,
            reaction=reaction,
            offset=offset,
            limit=limit,
        )

    def reset_question_attempts(
        self,
        team_id: int,
        challenge_id: int,
        question_id: int,
        *,
        reason: str,
        competition_id: int | None = None,
    ) -> models.AttemptReset:
        """A fresh wrong-attempt budget for the team on one question."""
        body = {"reason": reason}
        if competition_id is not None:
            body["competition_id"] = competition_id
        return self._post(
            models.AttemptReset,
            f"admin/teams/{team_id}/questions/{challenge_id}/{question_id}"
            "/reset-attempts",
            body,
        )


class Competitions(_Area):
    def list(self, offset: int = 0, limit: int = 50) -> Page[models.Competition]:
        return self._get(
            Page[models.Competition], "admin/competitions", offset=offset, limit=limit
        )

    def get(self, competition_id: int) -> models.Competition:
        return self._get(models.Competition, f"admin/competitions/{competition_id}")

    def freeze(
        self, competition_id: int, *, at: datetime | None = None
    ) -> models.Competition:
        """Freeze the public scoreboard now, or schedule it for `at`."""
        body = {"at": _when(at)} if at else {}
        return self._post(
            models.Competition, f"admin/competitions/{competition_id}/freeze", body
        )

    def unfreeze(self, competition_id: int) -> models.Competition:
        return self._post(
            models.Competition, f"admin/competitions/{competition_id}/unfreeze"
        )


class Principals(_Area):
    """Teams and solo players with their live scores."""

    def list(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        competition_id: int | None = None,
        kind: str | None = None,
        banned: bool | None = None,
        hidden: bool | None = None,
        search: str | None = None,
        ordering: str = "id",
    ) -> Page[models.Principal]:
        return self._get(
            Page[models.Principal],
            "admin/principals",
            offset=offset,
            limit=limit,
            competition_id=competition_id,
            kind=kind,
            banned=banned,
            hidden=hidden,
            search=search,
            ordering=ordering,
        )

    def get(self, principal_id: int) -> models.Principal:
        return self._get(models.Principal, f"admin/principals/{principal_id}")

    def ban(self, principal_id: int, *, reason: str = "") -> models.PrincipalChange:
        return self._post(
            models.PrincipalChange,
            f"admin/principals/{principal_id}/ban",
            {"reason": reason},
        )

    def unban(self, principal_id: int, *, reason: str = "") -> models.PrincipalChange:
        return self._post(
            models.PrincipalChange,
            f"admin/principals/{principal_id}/unban",
            {"reason": reason},
        )

    def adjust_score(
        self, principal_id: int, delta: int, *, note: str
    ) -> models.Principal:
        """Add `delta` points (negative to take away); `note` says why."""
        return self._post(
            models.Principal,
            f"admin/principals/{principal_id}/adjust-score",
            {"delta": delta, "note": note},
        )


class Submissions(_Area):
    def list(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        competition_id: int | None = None,
        result: str | None = None,
        category: str | None = None,
        challenge_id: int | None = None,
        question_id: int | None = None,
        principal_id: int | None = None,
        team_id: int | None = None,
        user_id: int | None = None,
        ip: str | None = None,
        flag_sha256: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[models.Submission]:
        """Flag attempts, newest first; every filter is optional."""
        return self._get(
            Page[models.Submission],
            "admin/submissions",
            offset=offset,
            limit=limit,
            competition_id=competition_id,
            result=result,
            category=category,
            challenge_id=challenge_id,
            question_id=question_id,
            principal_id=principal_id,
            team_id=team_id,
            user_id=user_id,
            ip=ip,
            flag_sha256=flag_sha256,
            since=_when(since),
            until=_when(until),
        )


class Events(_Area):
    def list(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        type: str | None = None,
        severity: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[models.Event]:
        """The audit log, newest first."""
        return self._get(
            Page[models.Event],
            "admin/events",
            offset=offset,
            limit=limit,
            type=type,
            severity=severity,
            since=_when(since),
            until=_when(until),
        )


class Tasks(_Area):
    """Background tasks: rescans, builds and pulls."""

    def get(self, task_id: int) -> models.Task:
        return self._get(models.Task, f"admin/tasks/{task_id}")

    def list(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        kind: str | None = None,
        status: str | None = None,
    ) -> Page[models.Task]:
        """Tasks, newest first."""
        return self._get(
            Page[models.Task],
            "admin/tasks",
            offset=offset,
            limit=limit,
            kind=kind,
            status=status,
        )

    def wait(
        self, task: models.Task | int, *, timeout: float = 600, poll: float = 1.0
    ) -> models.Task:
        """Read the task every `poll` seconds until it is finished (succeeded,
        partial or failed) and return it; TaskTimeout after `timeout` s."""
        current = task if isinstance(task, models.Task) else self.get(task)
        deadline = time.monotonic() + timeout
        while not current.is_finished:
            if time.monotonic() >= deadline:
                raise TaskTimeout(current, timeout)
            time.sleep(max(0.0, min(poll, deadline - time.monotonic())))
            current = self.get(current.id)
        return current


class Instances(_Area):
    """Every principal's instances."""

    def list(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        status: str | None = None,
        node_id: int | None = None,
        challenge_id: int | None = None,
        principal_id: int | None = None,
        competition_id: int | None = None,
    ) -> Page[models.InstanceRecord]:
        """Instances, newest request first; every filter is optional."""
        return self._get(
            Page[models.InstanceRecord],
            "admin/instances",
            offset=offset,
            limit=limit,
            status=status,
            node_id=node_id,
            challenge_id=challenge_id,
            principal_id=principal_id,
            competition_id=competition_id,
        )

    def stop(self, instance_id: int) -> models.InstanceRecord:
        return self._post(models.InstanceRecord, f"admin/instances/{instance_id}/stop")

    def extend(self, instance_id: int) -> models.InstanceRecord:
        """One more extension step, at any time (never past the end)."""
        return self._post(
            models.InstanceRecord, f"admin/instances/{instance_id}/extend"
        )


class Nodes(_Area):
    """The Docker hosts challenges are built and run on."""

    def list(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        status: str | None = None,
        enabled: bool | None = None,
    ) -> Page[models.Node]:
        return self._get(
            Page[models.Node],
            "admin/nodes",
            offset=offset,
            limit=limit,
            status=status,
            enabled=enabled,
        )

    def check(self, node_id: int) -> models.Node:
        """Check the node's health now; the answer is the node after it."""
        return self._post(models.Node, f"admin/nodes/{node_id}/check")


class Admin:
    """Organizer routes (a staff account's token)."""

    def __init__(self, transport: Transport):
        self.challenges = AdminChallenges(transport)
        self.competitions = Competitions(transport)
        self.principals = Principals(transport)
        self.submissions = Submissions(transport)
        self.events = Events(transport)
        self.tasks = Tasks(transport)
        self.nodes = Nodes(transport)
        self.instances = Instances(transport)


class Client:
    """The API of the platform at `base_url`, as the token's user.

    Every request gives up after `timeout` seconds; a server that cannot be
    reached is tried `retries` more times (backing off from `backoff`
    seconds), a POST only when it surely never arrived. Errors raise
    `ctfsdk.APIError` subclasses carrying the status and the server's message.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
    ):
        self._http = Transport(
            base_url, token, timeout=timeout, retries=retries, backoff=backoff
        )
        self.challenges = Challenges(self._http)
        self.admin = Admin(self._http)

    def me(self) -> models.Me:
        return parse(models.Me, self._http.request("GET", "me"))

    def scoreboard(
        self,
        offset: int = 0,
        limit: int = 50,
        *,
        filter: str = "all",
        live: bool = False,
    ) -> models.Scoreboard:
        """The public standings (`filter`: all, team or solo; `live`: staff
        see the live board while it is frozen)."""
        data = self._http.request(
            "GET",
            "scoreboard",
            params={"offset": offset, "limit": limit, "filter": filter, "live": live},
        )
        return parse(models.Scoreboard, data)

    def announcements(
        self, offset: int = 0, limit: int = 50
    ) -> Page[models.Announcement]:
        data = self._http.request(
            "GET", "announcements", params={"offset": offset, "limit": limit}
        )
        return parse(Page[models.Announcement], data)

    @staticmethod
    def every(
        list_method: Callable[..., Page], page_size: int = 200, **filters
    ) -> Iterator:
        """Every item of a list, page after page: `client.every(
        client.admin.submissions.list, result="wrong")`."""
        offset = 0
        while True:
            page = list_method(offset=offset, limit=page_size, **filters)
            yield from page.items
            offset += len(page.items)
            if not page.items or not page.has_more:
                return
