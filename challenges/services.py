"""Challenge operations: the catalog rescan, visibility, feedback.

`catalog_rescan` is the one rescan: `manage.py rescan`, the admin screen, the API
and the Celery task all call it.
"""

from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import EventType
from audit.services import record
from challenges.access import catalog_changed
from challenges.catalog import ChallengeSpec, SpecProblem, scan_catalog
from challenges.catalog.compose import elevated_settings
from challenges.models import (
    Challenge,
    ChallengeFile,
    ChallengeState,
    Competition,
    Feedback,
    Hint,
    Question,
)
from challenges.signals import catalog_rescanned, challenges_published
from requirements.compiled import requirement_from_spec
from requirements.lispish import LispIshError

# Parsed specs by catalog root, reused while their files are unchanged.
_SPEC_CACHE: dict[str, dict[str, ChallengeSpec]] = {}


@dataclass
class RescanReport:
    """What a rescan did (or, dry, would do); paths are relative to the catalog."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict:
        return {
            key: getattr(self, key)
            for key in (
                "added",
                "updated",
                "unchanged",
                "hidden",
                "rejected",
                "warnings",
            )
        }

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.hidden)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else ""
        parts = [
            f"{len(getattr(self, k))} {k}"
            for k in ("added", "updated", "unchanged", "hidden", "rejected")
        ]
        return (
            f"Rescan{' (dry run)' if self.dry_run else ''}: "
            + ", ".join(parts)
            + (f" ({verb} applied)" if verb else "")
            + (f"; {len(self.warnings)} warning(s)" if self.warnings else "")
            + "."
        )


def _identity_of(problem_path: str) -> str:
    return str(PurePosixPath(problem_path).parent)


def _requirement_problem(spec: ChallengeSpec, error: LispIshError) -> SpecProblem:
    return SpecProblem(
        path=spec.path,
        line=None,
        col=None,
        field="requirements",
        message=f"LispIsh {error}",
    )


def _services(spec: ChallengeSpec) -> dict:
    if not (spec.services or spec.compose or spec.instance):
        return {}
    return {
        "services": [asdict(s) for s in spec.services or spec.compose],
        "compose_file": spec.compose_file,
        "instance": asdict(spec.instance) if spec.instance else None,
        "protocol": spec.protocol,
        "host": spec.host,
        "healthcheck": spec.healthcheck,
    }


def _challenge_fields(spec: ChallengeSpec, requirement: str) -> dict:
    extra = spec.extra
    return {
        "name": spec.name,
        "normalized_name": spec.normalized_name,
        "category": spec.category,
        "author": spec.author,
        "description": spec.description,
        "attribution": spec.attribution,
        "type": spec.type,
        "value": spec.value,
        "decay_initial": extra.initial if extra else None,
        "decay_decay": extra.decay if extra else None,
        "decay_minimum": extra.minimum if extra else None,
        "decay_function": extra.function if extra else "",
        "connection_info": spec.connection_info,
        "tags": list(spec.tags),
        "topics": list(spec.topics),
        "state": spec.state,
        "locked_visibility": spec.locked_visibility,
        "requirement": requirement,
        "services": _services(spec),
        "content_hash": spec.content_hash,
        "spec_error": "",
        "is_missing": False,
    }


def _apply_spec(challenge: Challenge, spec: ChallengeSpec, requirement: str) -> None:
    """Write `spec` onto `challenge` and its questions, hints and files."""
    if challenge.requirement != requirement:
        challenge.requirement_error = ""
    for name, value in _challenge_fields(spec, requirement).items():
        setattr(challenge, name, value)
    challenge.updated_at = timezone.now()
    challenge.save()

    keep = []
    for position, question in enumerate(spec.questions):
        Question.objects.update_or_create(
            challenge=challenge,
            key=question.key,
            defaults={
                "name": question.name,
                "points": question.points,
                "attempts": question.attempts,
                "position": position,
                "flags": [asdict(f) for f in question.flags],
            },
        )
        keep.append(question.key)
    # A question removed from the spec goes, unless someone solved it.
    challenge.questions.exclude(key__in=keep).filter(solves__isnull=True).delete()

    hints = list(challenge.hints.all())
    for position, hint in enumerate(spec.hints):
        values = {
            "title": hint.title,
            "content": hint.content,
            "cost": hint.cost,
            "position": position,
        }
        if position < len(hints):
            Hint.objects.filter(pk=hints[position].pk).update(**values)
        else:
            Hint.objects.create(challenge=challenge, **values)
    Hint.objects.filter(pk__in=[h.pk for h in hints[len(spec.hints) :]]).delete()

    # Upsert by path so a file keeps its id (and download links) across updates.
    kept = []
    for position, f in enumerate(spec.files):
        handout, _ = ChallengeFile.objects.update_or_create(
            challenge=challenge,
            relative_path=f.relative_path,
            defaults={
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "is_text": f.is_text,
                "placeholders": list(f.placeholders),
                "position": position,
            },
        )
        kept.append(handout.pk)
    challenge.files.exclude(pk__in=kept).delete()


def catalog_rescan(
    *,
    catalog: Path | str | None = None,
    dry_run: bool = False,
    actor=None,
    progress=None,
) -> RescanReport:
    """Load the catalog from disk and apply valid specs; hide vanished challenges.

    Rejected specs never stop the others. A challenge whose spec turns invalid
    keeps its last good version live and is flagged (`spec_error`). An unchanged
    catalog writes nothing.
    """
    root = Path(catalog or settings.CATALOG_DIR).resolve()
    result = scan_catalog(root, cache=_SPEC_CACHE.get(str(root)), progress=progress)
    _SPEC_CACHE[str(root)] = result.cache()
    report = RescanReport(
        dry_run=dry_run, warnings=[w.to_dict() for w in result.warnings]
    )
    problems = list(result.rejected)
    valid: dict[str, tuple[ChallengeSpec, str]] = {}
    for identity, spec in result.specs.items():
        try:
            requirement = requirement_from_spec(
                spec.requirement_text or list(spec.prerequisites)
            )
        except LispIshError as error:
            problems.append(_requirement_problem(spec, error))
        else:
            valid[identity] = (spec, requirement)
    report.rejected = [p.to_dict() for p in problems]
    problem_of = {_identity_of(p.path): str(p) for p in problems}

    flagged = 0
    with transaction.atomic():
        existing = {c.identity: c for c in Challenge.objects.select_for_update()}
        for identity, (spec, requirement) in sorted(valid.items()):
            challenge = existing.get(identity)
            if challenge is None:
                report.added.append(identity)
                challenge = Challenge(identity=identity)
            elif (
                challenge.content_hash == spec.content_hash
                and challenge.requirement == requirement
                and not challenge.is_missing
                and not challenge.spec_error
            ):
                report.unchanged.append(identity)
                continue
            else:
                report.updated.append(identity)
            if not dry_run:
                _apply_spec(challenge, spec, requirement)
        for identity, challenge in sorted(existing.items()):
            if identity in valid:
                continue
            if identity in problem_of:
                # Keep the last good version live; flag it until the spec is fixed.
                if not dry_run and challenge.spec_error != problem_of[identity]:
                    flagged += Challenge.objects.filter(pk=challenge.pk).update(
                        spec_error=problem_of[identity]
                    )
            elif not challenge.is_missing:
                report.hidden.append(identity)
                if not dry_run:
                    Challenge.objects.filter(pk=challenge.pk).update(
                        is_missing=True, updated_at=timezone.now()
                    )
        if not dry_run:
            catalog_changed()
            _published(
                list(
                    Challenge.objects.visible()
                    .filter(identity__in=report.added + report.updated)
                    .values_list("pk", flat=True)
                )
            )
        if not dry_run and (report.changed or flagged):
            record(
                EventType.CATALOG_RESCANNED,
                actor=actor,
                message=report.summary(),
                details=report.to_dict(),
            )
        if not dry_run:
            transaction.on_commit(
                lambda: catalog_rescanned.send(
                    sender=Challenge, report=report, actor=actor
                )
            )
    return report


def challenge_set_state(*, challenges: QuerySet, state: str) -> int:
    """Show or hide challenges; returns how many changed."""
    if state not in ChallengeState.values:
        raise ValueError(f"unknown state {state!r}")
    changing = list(challenges.exclude(state=state).values_list("pk", flat=True))
    Challenge.objects.filter(pk__in=changing).update(
        state=state, updated_at=timezone.now()
    )
    catalog_changed()
    if state == ChallengeState.VISIBLE:
        _published(changing)
    return len(changing)


@transaction.atomic
def challenge_trust(*, challenge: Challenge, actor, trusted: bool) -> Challenge:
    """Allow (or withdraw) the elevated settings its services ask for, audited.

    Trust covers the settings asked for now: a spec that later asks for more
    needs trusting again.
    """
    settings_ = elevated_settings(challenge.services.get("services") or ())
    challenge.trusted_settings = settings_ if trusted else []
    Challenge.objects.filter(pk=challenge.pk).update(
        trusted_settings=challenge.trusted_settings, updated_at=timezone.now()
    )
    catalog_changed()
    record(
        EventType.CHALLENGE_TRUST_CHANGED,
        actor=actor,
        subject=challenge.name,
        message=(
            f"trusted: {', '.join(settings_) or 'nothing elevated'}"
            if trusted
            else "trust withdrawn"
        ),
        details={"challenge": challenge.pk, "trusted": challenge.trusted_settings},
    )
    return challenge


def _published(challenge_ids: list[int]) -> None:
    """Tell listeners (scoring's flag pre-derivation) once the transaction commits."""
    if challenge_ids:
        transaction.on_commit(
            lambda: challenges_published.send(
                sender=Challenge, challenge_ids=challenge_ids
            )
        )


def feedback_set(
    *,
    user,
    challenge: Challenge,
    competition: Competition,
    vote: int,
    comment: str = "",
) -> Feedback:
    """Record or change `user`'s one reaction to `challenge`."""
    if vote not in Feedback.Vote.values:
        raise ValueError("vote is 1 (up) or -1 (down)")
    feedback, _ = Feedback.objects.update_or_create(
        challenge=challenge,
        user=user,
        defaults={
            "competition": competition,
            "vote": vote,
            "comment": comment.strip()[:2000],
            "updated_at": timezone.now(),
        },
    )
    return feedback


@transaction.atomic
def competition_freeze(*, competition: Competition, actor, at=None) -> Competition:
    """Freeze the public scoreboard now, or schedule it for `at`."""
    at = at or timezone.now()
    Competition.objects.filter(pk=competition.pk).update(freeze_at=at)
    competition.freeze_at = at
    catalog_changed()  # pages keep the competition in memory under this version
    scheduled = at > timezone.now()
    record(
        EventType.SCOREBOARD_FROZEN,
        actor=actor,
        subject=competition.name,
        message=("freeze scheduled for " if scheduled else "frozen at ")
        + f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
        details={
            "competition": competition.pk,
            "freeze_at": at.isoformat(),
            "frozen": True,
        },
    )
    return competition


@transaction.atomic
def competition_unfreeze(*, competition: Competition, actor) -> Competition:
    """Show the live scoreboard again (or cancel a scheduled freeze)."""
    Competition.objects.filter(pk=competition.pk).update(freeze_at=None)
    competition.freeze_at = None
    catalog_changed()
    record(
        EventType.SCOREBOARD_FROZEN,
        actor=actor,
        subject=competition.name,
        message="unfrozen",
        details={"competition": competition.pk, "frozen": False},
    )
    return competition
