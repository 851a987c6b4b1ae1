"""Which announcements a player sees (read-only).

One tied to a challenge is shown only to players who may open that challenge
(`challenge_access`, through the player's board): a locked or hidden
challenge's announcement would name it, or give it away.
"""

from challenges.board import player_board
from challenges.markdown import render_markdown
from challenges.models import Announcement, Competition


def announcements_for(user, competition: Competition | None = None) -> list:
    """The competition's announcements `user` may read, newest first, each
    with its body rendered (`html`)."""
    competition = competition or Competition.objects.default()
    announcements = list(
        Announcement.objects.filter(competition=competition).select_related("challenge")
    )
    tied = {a.challenge_id for a in announcements if a.challenge_id}
    if tied and not user.is_staff:
        board = player_board(user) if user.is_authenticated else None
        cards = {pk: board.get(pk) if board else None for pk in tied}
        announcements = [
            a
            for a in announcements
            if a.challenge_id is None
            or (cards[a.challenge_id] and cards[a.challenge_id].access.is_open)
        ]
    for announcement in announcements:
        announcement.html = render_markdown(announcement.body)
    return announcements
