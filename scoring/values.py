"""Challenge values: static points, and CTFd-compatible dynamic decay."""

import math


def dynamic_value(
    *, initial: int, decay: int, minimum: int, function: str, solves: int
) -> int:
    """Current value after `solves` public solves; the first solver gets `initial`.

    linear: initial - decay*n; logarithmic (CTFd's name for it; a parabola):
    ((minimum - initial) / decay**2) * n**2 + initial, with n = solves - 1 and
    decay 0 treated as 1; never below `minimum`.
    """
    n = max(solves - 1, 0)
    if function == "linear":
        value = initial - decay * n
    else:
        decay = decay or 1
        value = ((minimum - initial) / (decay**2)) * (n**2) + initial
    return max(minimum, math.ceil(value))
