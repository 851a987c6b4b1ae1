"""What-if WSGI entry point for bench/submissions.py (configurations `...:whatif`).

Not a fix and not used by the platform: the benchmark's gunicorn only. Every
flag attempt builds a `challenges.board.Board`, whose constructor runs
`scoring.selectors.challenge_solve_counts`: one aggregate over the whole Solve
table (every principal x question), ~200-300 ms with 20,000 solves, although
the attempt only needs the one challenge's access (the counts feed `Card.points`
and `Card.solve_count`, which `AttemptView` never reads). Here the Board gets
no counts, as it would if the attempt path skipped them, so the benchmark can
show what the rest of the path costs.
"""

from ctfplatform.wsgi import application  # noqa: F401  (gunicorn serves it)


def _patch() -> None:
    import challenges.board as board  # after Django is set up

    board.challenge_solve_counts = lambda competition, *args, **kwargs: {}


_patch()
