"""What-if WSGI entry point for bench/submissions.py (configurations `...:whatif`).

Not a fix and not used by the platform: the benchmark's gunicorn only. Every
flag attempt builds a `challenges.board.Board`, whose constructor runs
`scoring.selectors.challenge_solve_counts` — one aggregate over the whole Solve
table (every principal x question) — although the attempt only needs the one
challenge's access. Here that function is memoised per process for
CACHE_SECONDS, so the benchmark can show what the rest of the path costs.
"""

import time

from ctfplatform.wsgi import application  # noqa: F401  (gunicorn serves it)

CACHE_SECONDS = 5.0


def _patch() -> None:
    import challenges.board as board  # after Django is set up

    original, memo = board.challenge_solve_counts, {}

    def cached_counts(competition, *args, **kwargs):
        key = (competition.pk, args, tuple(sorted(kwargs.items())))
        hit = memo.get(key)
        if hit is None or time.monotonic() - hit[0] > CACHE_SECONDS:
            hit = memo[key] = (time.monotonic(), original(competition, *args, **kwargs))
        return hit[1]

    board.challenge_solve_counts = cached_counts


_patch()
