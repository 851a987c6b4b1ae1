"""The challenge board and detail as one player sees them (read-only).

A constant number of queries whatever the number of challenges: the challenge
set with its questions, the player's principal, the public solve counts, and
the player's facts (solves included) and catalog facts the requirements need
(see `challenges.access`).

Every page and API answer about a challenge goes through a `Card`, which says
what the player may know of it: everything (open), name, category and points
(preview), or nothing but the explanation (locked, an anonymous card). A
locked card's explanation names only challenges the player can see listed.
"""

from dataclasses import dataclass
from functools import cached_property

from django.db.models import Prefetch
from django.http import Http404
from django.utils.safestring import SafeString

from challenges.access import Access, RequirementContext, challenge_access
from challenges.catalog import normalize_name
from challenges.markdown import render_markdown
from challenges.models import (
    Challenge,
    ChallengeType,
    Competition,
    LockedVisibility,
    Question,
)
from challenges.placeholders import fill_placeholders
from requirements.compiled import compile_requirement, explain_requirement
from requirements.lispish import LispIshError
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
    def named(self) -> bool:
        """Whether the player may know its name, category and points."""
        return self.access.state in ("open", LockedVisibility.PREVIEW)

    @property
    def anonymous(self) -> bool:
        return not self.named

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

    def named_ids(self) -> set[int]:
        """Ids of the challenges whose name the player may know (open or preview
        cards), without the solve counts a full card needs."""
        if self.not_started:
            return set()
        named = ("open", LockedVisibility.PREVIEW)
        return {
            c.pk
            for c in self._challenges()
            if challenge_access(c, self.context, self._functions).state in named
        }

    def cards(self) -> list[Card]:
        """Every challenge the player may see listed (hidden-when-locked ones
        drop); anonymous cards come last, so their place tells nothing."""
        if self.not_started:
            return []
        cards = (self.card(c) for c in self._challenges())
        listed = [c for c in cards if c.access.is_listed]
        named = {normalize_name(c.challenge.name) for c in listed if c.named}
        listed = [self._unnamed(c, named) for c in listed]
        return sorted(listed, key=lambda c: c.anonymous)

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
        if not card.access.is_listed:
            return None
        if card.access.is_open:
            return card
        # Which of the challenges its requirement names does the player see?
        refs = {normalize_name(r) for r in self._named_refs(challenge)}
        others = self._challenges().filter(normalized_name__in=refs) if refs else []
        named = {c.challenge.normalized_name for c in map(self.card, others) if c.named}
        return self._unnamed(card, named)

    def next_card(self, card: Card) -> Card | None:
        """The card of the challenge `card`'s spec says comes next, if listed."""
        ref = card.challenge.next_ref
        if not ref or self.not_started:
            return None
        rule = (
            {"pk": int(ref)}
            if ref.isdigit()
            else {"normalized_name": normalize_name(ref)}
        )
        challenge = self._challenges().filter(**rule).first()
        return self.get(challenge.pk) if challenge else None

    @staticmethod
    def _named_refs(challenge: Challenge) -> list[str]:
        """The challenge names its requirement writes out."""
        try:
            expression = compile_requirement(challenge.requirement)
        except LispIshError:  # locked as "Not available yet.", naming nothing
            return []
        return [
            n.value for n in expression.challenge_refs() if isinstance(n.value, str)
        ]

    def _unnamed(self, card: Card, named: set[str]) -> Card:
        """`card` with the challenges the player cannot see unnamed in its
        explanation (a locked card's only text)."""
        if card.access.is_open:
            return card
        refs = self._named_refs(card.challenge)
        unnamed = frozenset(r for r in refs if normalize_name(r) not in named)
        if unnamed:
            text = explain_requirement(card.challenge.requirement, unnamed)
            card.access = Access(card.access.state, text)
        return card

    def fill(self, card: Card, text: str) -> str:
        """`text` with the card's `{flag:<key>}` placeholders filled for the player."""
        return fill_placeholders(text, card.questions, self.principal, self.competition)

    def description(self, card: Card) -> SafeString:
        """The card's description, placeholders filled, as sanitized HTML."""
        return render_markdown(self.fill(card, card.challenge.description))


class Locked(Exception):
    """The player sees the challenge's card but may not open it."""

    def __init__(self, board: Board, card: Card) -> None:
        super().__init__(card.challenge.pk)
        self.board, self.card = board, card


def open_card(user, challenge_id: int) -> tuple[Board, Card]:
    """The board and the open card of a challenge; Http404 when the player may
    not know it exists, Locked when it is listed but not open."""
    board = player_board(user)
    card = board.get(challenge_id)
    if card is None:
        raise Http404("No such challenge.")
    if not card.access.is_open:
        raise Locked(board, card)
    return board, card


def player_board(user) -> Board:
    """The board of the default competition for `user`, whose principal (team or
    solo) is created on the first visit, with its per-team flags."""
    competition = Competition.objects.default()
    principal = principal_resolve(user=user, competition=competition)
    return Board(user, principal, competition)
