"""The challenge board and detail as one player sees them (read-only).

A constant number of queries whatever the number of challenges: the challenge
set with its questions, the player's principal, the public solve counts, and
the player's facts (solves included) and catalog facts the requirements need
(see `challenges.access`).
"""

from dataclasses import dataclass
from functools import cached_property

from django.db.models import Prefetch
from django.utils.safestring import SafeString

from challenges.access import Access, RequirementContext, challenge_access
from challenges.markdown import render_markdown
from challenges.models import Challenge, ChallengeType, Competition, Question
from challenges.placeholders import fill_placeholders
from scoring.selectors import challenge_solve_counts
from scoring.services import principal_resolve
from scoring.values import dynamic_value


@dataclass
class Card:
    challenge: Challenge
    access: Access
    points: int
    solve_count: int
    solved_questions: frozenset[int] = frozenset()

    @property
    def questions(self) -> list[Question]:
        return list(self.challenge.questions.all())

    @property
    def solved(self) -> bool:
        questions = self.questions
        return bool(questions) and all(q.pk in self.solved_questions for q in questions)

    def question(self, question_id) -> Question | None:
        """One of this challenge's questions by id (as int or text), or None."""
        return self.challenge.question(question_id)


def current_points(challenge: Challenge, solve_count: int) -> int:
    """The challenge's value now: static, or decayed by its public solves."""
    if challenge.type == ChallengeType.DYNAMIC and challenge.decay_initial is not None:
        return dynamic_value(
            initial=challenge.decay_initial,
            decay=challenge.decay_decay or 0,
            minimum=challenge.decay_minimum or 0,
            function=challenge.decay_function,
            solves=solve_count,
        )
    return challenge.value


class Board:
    """One player's view of one competition's challenges."""

    def __init__(self, user, principal, competition: Competition) -> None:
        self.user = user
        self.competition = competition
        self.principal = principal
        self.context = RequirementContext(user, self.principal)
        self._functions = self.context.functions()

    @cached_property
    def _solved(self) -> frozenset[int]:
        # The requirement context reads the solves anyway: one query for both.
        return self.context.solved_question_ids

    @cached_property
    def _counts(self) -> dict[int, int]:
        """Public solve counts, loaded on first use (a submission never needs them).

        While the scoreboard is frozen they are as of the freeze (live for staff).
        """
        frozen = self.competition.is_frozen() and not self.user.is_staff
        return challenge_solve_counts(
            self.competition, until=self.competition.freeze_at if frozen else None
        )

    def _challenges(self):
        return self.competition.challenge_set().prefetch_related(
            Prefetch("questions", queryset=Question.objects.order_by("position"))
        )

    def card(self, challenge: Challenge) -> Card:
        count = self._counts.get(challenge.pk, 0)
        return Card(
            challenge=challenge,
            access=challenge_access(challenge, self.context, self._functions),
            points=current_points(challenge, count),
            solve_count=count,
            solved_questions=self._solved,
        )

    @property
    def not_started(self) -> bool:
        """Before the start players see no challenges (staff see them all)."""
        return self.competition.not_started_for(self.user)

    def cards(self) -> list[Card]:
        """Every challenge the player may see listed (hidden-when-locked ones drop)."""
        if self.not_started:
            return []
        cards = (self.card(c) for c in self._challenges())
        return [c for c in cards if c.access.is_listed]

    def get(self, challenge_id: int) -> Card | None:
        """The card of one challenge, or None if the player may not even see it."""
        challenge = (
            None
            if self.not_started
            else (self._challenges().filter(pk=challenge_id).first())
        )
        if challenge is None:
            return None
        card = self.card(challenge)
        return card if card.access.is_listed else None

    def fill(self, card: Card, text: str) -> str:
        """`text` with the card's `{flag:<key>}` placeholders filled for the player."""
        return fill_placeholders(text, card.questions, self.principal, self.competition)

    def description(self, card: Card) -> SafeString:
        """The card's description, placeholders filled, as sanitized HTML."""
        return render_markdown(self.fill(card, card.challenge.description))


def player_board(user) -> Board:
    """The board of the default competition for `user`, whose principal (team or
    solo) is created on the first visit, with its per-team flags."""
    competition = Competition.objects.default()
    principal = principal_resolve(user=user, competition=competition)
    return Board(user, principal, competition)
