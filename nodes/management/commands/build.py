"""`manage.py build`: build challenge images on every enabled node."""

from nodes.management.commands._submit import SubmitCommand


class Command(SubmitCommand):
    help = (
        "Build challenge images on every enabled node, as a background task "
        "(--wait to follow it)."
    )
    verb = "build"
