"""Anti-cheat on wrong submissions: another principal's flag (shared or replayed)
or a decoy planted by organizers is recorded and handled by the ban policy."""

from audit.models import EventType
from audit.services import record
from scoring.decoys import decoy_hashes_of
from scoring.flags import flag_owner
from scoring.models import CheatKind, CheatRecord, FlagStatus, Principal, Submission
from scoring.services import principal_set_banned
from scoring.store import Begin

_EVENT = {
    CheatKind.SHARE: EventType.FLAG_SHARE_DETECTED,
    CheatKind.REPLAY: EventType.FLAG_REPLAY_DETECTED,
    CheatKind.DECOY: EventType.DECOY_FLAG_SUBMITTED,
}


def scan(
    *, submission: Submission, competition, found: Begin | None = None
) -> CheatRecord | None:
    """Look the wrong flag up among decoys and other principals' flags.

    `found` is what the attempt's Redis script already looked up, if it ran.
    """
    principal = submission.principal
    if found is None:
        decoy_id = decoy_hashes_of(competition).get(submission.flag_hash)
    else:
        decoy_id = found.decoy_id
    if decoy_id is not None:
        return _caught(
            CheatKind.DECOY,
            submission,
            owner=None,
            decoy_id=decoy_id,
            competition=competition,
        )
    if found is not None and found.owner_known:
        owner = found.owner
    else:
        owner = flag_owner(submission.flag_hash)
    if owner is None or owner[0] == principal.pk:
        return None
    owner_id, question_id, status = owner
    kind = CheatKind.REPLAY if status == FlagStatus.ROTATED else CheatKind.SHARE
    return _caught(
        kind,
        submission,
        owner=owner_id,
        question_id=question_id,
        competition=competition,
    )


def _caught(
    kind: str,
    submission: Submission,
    *,
    owner: int | None,
    competition,
    question_id: int | None = None,
    decoy_id: int | None = None,
) -> CheatRecord:
    submitter = submission.principal
    cheat = CheatRecord.objects.create(
        kind=kind,
        submitter=submitter,
        owner_id=owner,
        question_id=question_id or submission.question_id,
        decoy_id=decoy_id,
        submission=submission,
    )
    record(
        _EVENT[kind],
        actor=submission.user,
        principal=submitter,
        team=submitter.team_id,
        subject=str(submitter),
        ip=submission.ip,
        message=CheatKind(kind).label,
        details={
            "cheat": cheat.pk,
            "owner": owner,
            "question": cheat.question_id,
            "submission": submission.pk,
            "decoy": decoy_id,
        },
    )
    policy = competition.ban_policy
    if policy in ("submitter", "both"):
        principal_set_banned(
            principal=submitter,
            banned=True,
            reason=kind,
            auto=True,
            user=submission.user,
        )
    if policy == "both" and owner is not None:
        principal_set_banned(
            principal=Principal.objects.get(pk=owner),
            banned=True,
            reason=kind,
            auto=True,
        )
    return cheat
