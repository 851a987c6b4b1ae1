"""`manage.py pull`: pull challenge images on every enabled node."""

from nodes.management.commands._submit import SubmitCommand


class Command(SubmitCommand):
    help = (
        "Pull challenge images on every enabled node, as a background task "
        "(--wait to follow it)."
    )
    verb = "pull"
