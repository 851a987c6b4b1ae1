"""`{% boardcache board "name" var ... %}…{% endboardcache %}`: render a part of
a scoreboard page once per board version and per value of the listed variables,
and keep it in this process's memory (`scoring.scoreboard.remember`).

Only for parts that are the same for every viewer with those values: nothing
per user (names, CSRF tokens) may be inside.
"""

from django import template

from scoring.scoreboard import CACHE_SECONDS, remember

register = template.Library()


class BoardCacheNode(template.Node):
    def __init__(self, nodelist, board, name: str, vary, seconds: int):
        self.nodelist, self.board, self.name = nodelist, board, name
        self.vary, self.seconds = vary, seconds

    def render(self, context) -> str:
        current = self.board.resolve(context)
        values = ":".join(str(v.resolve(context)) for v in self.vary)
        return remember(
            current.competition_id,
            current.version,
            f"sb:part:{self.name}:{current.key}:{values}",
            lambda: self.nodelist.render(context),
            self.seconds,
        )


@register.tag
def boardcache(parser, token) -> BoardCacheNode:
    """{% boardcache board "name" [var ...] [seconds=N] %}…{% endboardcache %}"""
    bits = token.split_contents()
    if len(bits) < 3:
        raise template.TemplateSyntaxError(
            f"{bits[0]} needs a board and a quoted part name."
        )
    seconds = CACHE_SECONDS
    if bits[-1].startswith("seconds="):
        seconds = int(bits.pop()[len("seconds=") :])
    nodelist = parser.parse(("endboardcache",))
    parser.delete_first_token()
    return BoardCacheNode(
        nodelist,
        parser.compile_filter(bits[1]),
        bits[2].strip("\"'"),
        [parser.compile_filter(b) for b in bits[3:]],
        seconds,
    )
