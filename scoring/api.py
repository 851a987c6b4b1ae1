"""`POST /api/v1/challenges/{id}/attempt`: the submission pipeline over JSON."""

from django.http import Http404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import MeSerializer
from accounts.models import User
from audit.services import client_ip
from challenges.access import RequirementContext, challenge_access
from challenges.api import locked_response
from challenges.board import Locked, open_card
from challenges.models import Competition
from scoring.hot import attempt_target
from scoring.pipeline import ChallengeHidden, submission_attempt
from scoring.selectors import principal_score
from scoring.services import principal_resolve


class MeView(APIView):
    """The caller's account, team, and score in the default competition."""

    def get(self, request: Request) -> Response:
        user = User.objects.select_related("team__captain").get(pk=request.user.pk)
        principal = principal_resolve(
            user=user, competition=Competition.objects.default()
        )
        data = MeSerializer(user).data
        score = principal_score(principal) if principal else 0
        data["principal"] = (
            None
            if principal is None
            else {
                "id": principal.pk,
                "kind": principal.kind,
                "name": str(principal),
                "score": score,
                "banned": principal.is_banned,
            }
        )
        data["score"] = score
        return Response(data)


def _locked(user, challenge) -> Response | None:
    """The answer `GET /api/v1/challenges/{id}` gives while the challenge is not
    open to `user` (404 hidden, 403 locked): the board's card words it."""
    try:
        open_card(user, challenge.pk)  # raises Http404 when hidden
    except Locked as locked:
        return locked_response(locked)
    return None  # opened in between


class AttemptSerializer(serializers.Serializer):
    question = serializers.IntegerField(required=False)
    flag = serializers.CharField(trim_whitespace=False, allow_blank=False)


class AttemptView(APIView):
    """Answers correct, wrong, already_solved, rate_limited (429) or refused;
    a challenge that is not open answers as its GET does (403 or 404), a flag
    without `question` on a challenge of several questions is a 400.

    The hot path: the competition, the challenge and the principal come from
    each worker's memory (`scoring.hot`), so a wrong flag costs the token look-up,
    one INSERT and two Redis calls.
    """

    def post(self, request: Request, challenge_id: int) -> Response:
        data = AttemptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        competition, challenge, principal = attempt_target(
            user=request.user, challenge_id=challenge_id
        )
        if challenge is None or competition.not_started_for(request.user):
            raise Http404
        access = None
        if challenge.requirement and not request.user.is_staff:
            # Checked on the hot path's copies, and handed to the pipeline.
            access = challenge_access(
                challenge, RequirementContext(request.user, principal)
            )
            if not access.is_open:
                locked = _locked(request.user, challenge)
                if locked is not None:
                    return locked
                access = None  # it opened in between: the pipeline asks again
        question = None
        if "question" in data.validated_data:
            question = challenge.question(data.validated_data["question"])
            if question is None:
                raise Http404
        elif len(questions := challenge.questions.all()) != 1:
            ids = ", ".join(str(q.pk) for q in questions)
            raise serializers.ValidationError(
                {
                    "question": [
                        f"This challenge has {len(questions)} questions: say which "
                        f"one the flag answers (ids {ids})."
                    ]
                }
            )
        try:
            result = submission_attempt(
                user=request.user,
                challenge=challenge,
                question=question,
                flag=data.validated_data["flag"],
                competition=competition,
                principal=principal,
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
                access=access,
            )
        except ChallengeHidden:
            raise Http404 from None
        code = (
            status.HTTP_429_TOO_MANY_REQUESTS
            if result.result == "rate_limited"
            else status.HTTP_200_OK
        )
        response = Response(result.to_dict(), status=code)
        if result.retry_after and code == 429:
            response["Retry-After"] = str(result.retry_after)
        return response
