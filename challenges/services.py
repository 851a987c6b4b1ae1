"""Challenge operations: the catalog rescan, visibility, feedback, freezes and
announcements.

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
from django.utils.text import slugify

from audit.models import EventType
from audit.services import record
from challenges.access import catalog_changed
from challenges.catalog import (
    ChallengeSpec,
    SpecProblem,
    SpecWarning,
    normalize_name,
    scan_catalog,
)
from challenges.catalog.compose import elevated_settings
from challenges.catalog.paths import digest_file
from challenges.models import (
    Announcement,
    Challenge,
    ChallengeFile,
    ChallengeState,
    Competition,
    Feedback,
    Hint,
    Question,
)
from challenges.names import KnownChallenges
from challenges.signals import catalog_rescanned, challenges_published
from requirements.compiled import requirement_from_spec

# Challenges made in the admin: no folder of the catalog can have this identity.
ADMIN_IDENTITY_PREFIX = ".admin/"

# Parsed specs by catalog root, reused while their files are unchanged.
_SPEC_CACHE: dict[str, dict[str, ChallengeSpec]] = {}


@dataclass
class RescanReport:
    """What a rescan did (or, dry, would do); paths are relative to `catalog`."""

    catalog: str = ""
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
            for k in ("added", "updated", "unchanged", "hidden")
        ]
        # A rejected spec may have several problems: count the specs.
        rejected = len({p["path"] for p in self.rejected})
        errors = len(self.rejected)
        parts.append(
            f"{rejected} rejected"
            + (f" ({errors} problems)" if errors > rejected else "")
        )
        return (
            f"Rescan{' (dry run)' if self.dry_run else ''}: "
            + ", ".join(parts)
            + (f" ({verb} applied)" if verb else "")
            + (f"; {len(self.warnings)} warning(s)" if self.warnings else "")
            + "."
        )


def _identity_of(problem_path: str) -> str:
    return str(PurePosixPath(problem_path).parent)


def _unique_names(
    specs: dict[str, ChallengeSpec], existing: dict[str, Challenge]
) -> tuple[dict[str, ChallengeSpec], list[SpecProblem]]:
    """Keep one spec per challenge name; reject the others with both paths.

    The spec whose challenge has the name already keeps it, else the first in
    path order; a name taken by a challenge made in the admin stays with it.
    """
    holders = {c.normalized_name: c for c in existing.values() if c.identity in specs}
    admin_made = {
        c.normalized_name: c
        for c in existing.values()
        if not c.spec_path and c.identity not in specs
    }
    groups: dict[str, list[ChallengeSpec]] = {}
    for identity in sorted(specs):
        groups.setdefault(specs[identity].normalized_name, []).append(specs[identity])
    kept: dict[str, ChallengeSpec] = {}
    problems: list[SpecProblem] = []
    for name, group in groups.items():
        holder = holders.get(name)
        keeper = next(
            (s for s in group if holder and s.identity == holder.identity), group[0]
        )
        taken = admin_made.get(name)
        for spec in group:
            if taken is None and spec is keeper:
                kept[spec.identity] = spec
                continue
            where = (
                f"the challenge made in the admin (id {taken.pk})"
                if taken
                else keeper.path
            )
            message = (
                f"the name {spec.name!r} is already used by {where}; "
                "challenge names must be unique"
            )
            problems.append(
                SpecProblem(spec.path, spec.name_line, None, "name", message)
            )
    return kept, problems


def _name_warnings(
    specs: dict[str, ChallengeSpec], existing: dict[str, Challenge]
) -> list[dict]:
    """Requirements and `next:` that name no challenge, with path and line."""
    names = {s.normalized_name: s.name for s in specs.values()}
    for challenge in existing.values():
        if challenge.identity not in specs:
            names.setdefault(challenge.normalized_name, challenge.name)
    known = KnownChallenges(names, {c.pk for c in existing.values()})
    warnings = []
    for identity in sorted(specs):
        spec = specs[identity]
        for ref in spec.references:
            problem = known.problem(ref.ref)
            if problem:
                warning = SpecWarning(spec.path, f"{ref.field}: {problem}", ref.line)
                warnings.append(warning.to_dict())
    return warnings


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
        "spec_path": spec.path,
        "spec_state": spec.state,
        "locked_visibility": spec.locked_visibility,
        "next_ref": "" if spec.next is None else str(spec.next),
        "requirement": requirement,
        "services": _services(spec),
        "content_hash": spec.content_hash,
        "spec_error": "",
        "is_missing": False,
    }


def _apply_spec(challenge: Challenge, spec: ChallengeSpec, requirement: str) -> None:
    """Write `spec` onto `challenge` and its questions, hints and files.

    The operational fields stay as organizers set them; the spec's `state:`
    applies to a new challenge and whenever it changes in the spec.
    """
    if challenge.requirement != requirement:
        challenge.requirement_error = ""
    if challenge.pk is None or challenge.spec_state != spec.state:
        challenge.state = spec.state
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
    existing = {c.identity: c for c in Challenge.objects.all()}
    specs, problems = _unique_names(result.specs, existing)
    problems = list(result.rejected) + problems
    report = RescanReport(
        catalog=str(root),
        dry_run=dry_run,
        warnings=[w.to_dict() for w in result.warnings]
        + _name_warnings(specs, existing),
    )
    valid = {
        identity: (
            spec,
            requirement_from_spec(spec.requirement_text or list(spec.prerequisites)),
        )
        for identity, spec in specs.items()
    }
    report.rejected = [p.to_dict() for p in problems]
    problem_of: dict[str, str] = {}
    for problem in problems:
        identity = _identity_of(problem.path)
        problem_of[identity] = "\n".join(
            filter(None, [problem_of.get(identity), str(problem)])
        )

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
                and challenge.spec_path == spec.path
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
            if identity in valid or not challenge.from_catalog:
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


def challenge_set_state(*, challenges: QuerySet, state: str, actor=None) -> int:
    """Show or hide challenges (rescans keep it); returns how many changed."""
    if state not in ChallengeState.values:
        raise ValueError(f"unknown state {state!r}")
    changing = list(challenges.exclude(state=state).values_list("pk", "name", "state"))
    Challenge.objects.filter(pk__in=[pk for pk, _, _ in changing]).update(
        state=state, updated_at=timezone.now()
    )
    catalog_changed()
    for pk, name, old in changing:
        _audit_change(pk, name, {"state": (old, state)}, actor)
    if state == ChallengeState.VISIBLE:
        _published([pk for pk, _, _ in changing])
    return len(changing)


@transaction.atomic
def challenge_admin_save(*, challenge: Challenge, changes: dict, actor) -> Challenge:
    """Save an organizer's edit of `challenge` (`changes`: field -> (old, new))
    and audit it. A catalog challenge takes only its operational fields: the
    rest is its spec's, and a rescan would put it back."""
    created = challenge.pk is None
    columns = None
    if challenge.from_catalog:
        spec_owned = sorted(set(changes) - set(Challenge.OPERATIONAL_FIELDS))
        if spec_owned:
            raise ValueError(
                f"{', '.join(spec_owned)}: these come from {challenge.spec_path}; "
                "edit the spec and rescan"
            )
        # Only these columns: a rescan that committed since the form was read
        # keeps what it wrote.
        columns = [*changes, "updated_at"]
    else:
        if created:
            challenge.identity = _admin_identity(challenge.name)
        challenge.normalized_name = normalize_name(challenge.name)
        if "requirement" in changes:
            challenge.requirement_error = ""  # a new requirement: a fresh verdict
    challenge.updated_at = timezone.now()
    challenge.save(update_fields=columns)
    if created or changes:
        _audit_change(challenge.pk, challenge.name, changes, actor, created=created)
    if challenge.state == ChallengeState.VISIBLE and (created or "state" in changes):
        _published([challenge.pk])
    return challenge


def _admin_identity(name: str) -> str:
    """A unique identity no catalog folder can take (the scan skips dot folders)."""
    base = f"{ADMIN_IDENTITY_PREFIX}{slugify(name) or 'challenge'}"
    identity, n = base, 1
    while Challenge.objects.filter(identity=identity).exists():
        n += 1
        identity = f"{base}-{n}"
    return identity


def _audit_change(pk: int, name: str, changes: dict, actor, created=False) -> None:
    operational = {
        field: {"from": str(old), "to": str(new)}
        for field, (old, new) in changes.items()
        if field in Challenge.OPERATIONAL_FIELDS
    }
    words = [f"{f} {v['from']} → {v['to']}" for f, v in operational.items()]
    others = sorted(set(changes) - set(operational))
    if others:
        words.append("edited " + ", ".join(others))
    record(
        EventType.CHALLENGE_CHANGED,
        actor=actor,
        subject=name[:200],
        message=("created" if created else "; ".join(words))[:500],
        details={"challenge": pk, "changes": operational, "fields": others},
    )


def challenge_file_describe(*, handout: ChallengeFile) -> ChallengeFile:
    """Fill an uploaded handout's name, size, hash and placeholders from its file."""
    path = handout.upload.path
    handout.size = handout.upload.size
    handout.sha256, handout.is_text, placeholders = digest_file(path, handout.size)
    handout.placeholders = list(placeholders)
    handout.name = handout.name or PurePosixPath(handout.upload.name).name
    handout.save()
    return handout


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


def _announcement_record(event: str, announcement: Announcement, actor) -> None:
    record(
        event,
        actor=actor,
        subject=announcement.title[:200],
        message=announcement.body[:500],
        details={
            "announcement": announcement.pk,
            "competition": announcement.competition_id,
            "challenge": announcement.challenge_id,
        },
    )


@transaction.atomic
def announcement_save(*, announcement: Announcement, actor) -> Announcement:
    """Post a new announcement, or store an edit; players see it at their next
    refresh (pages poll every 30 s)."""
    posting = announcement.pk is None
    announcement.updated_at = timezone.now()
    if posting:
        announcement.author = announcement.author or actor
        announcement.created_at = announcement.updated_at
    announcement.save()
    _announcement_record(
        EventType.ANNOUNCEMENT_POSTED if posting else EventType.ANNOUNCEMENT_EDITED,
        announcement,
        actor,
    )
    return announcement


@transaction.atomic
def announcement_delete(*, announcements: QuerySet, actor) -> int:
    """Take announcements down; returns how many."""
    doomed = list(announcements)
    for announcement in doomed:
        _announcement_record(EventType.ANNOUNCEMENT_DELETED, announcement, actor)
    Announcement.objects.filter(pk__in=[a.pk for a in doomed]).delete()
    return len(doomed)
