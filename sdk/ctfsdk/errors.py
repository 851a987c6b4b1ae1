"""What the client raises: an APIError for every answer that is not a success
(with the status and the server's message), ConnectionFailed when the server
could not be reached after the retries."""


class CtfSdkError(Exception):
    """Base of everything this package raises."""


class APIError(CtfSdkError):
    """The server answered with an error: `status`, its machine code `error`,
    its sentence `detail`, and `fields` (each bad parameter) on a 400."""

    def __init__(self, status: int, error: str, detail: str, body=None):
        self.status = status
        self.error = error
        self.detail = detail
        self.body = body if body is not None else {}
        self.fields = self.body.get("fields", {}) if isinstance(self.body, dict) else {}
        message = f"{status} {error}: {detail}"
        if self.fields:
            message += " " + "; ".join(
                f"{name}: {' '.join(map(str, why)) if isinstance(why, list) else why}"
                for name, why in self.fields.items()
            )
        super().__init__(message)


class BadRequest(APIError):
    """400: a bad parameter or body; `fields` names each one."""


class AuthenticationFailed(APIError):
    """401: no token, or a bad, expired or revoked one."""


class PermissionDenied(APIError):
    """403: the token's user may not do this (staff only, or locked)."""


class NotFound(APIError):
    """404: no such object, or one the caller may not know exists."""


class Conflict(APIError):
    """409: the server refused in this state (`error` says why: e.g. `limit`,
    `no_node`, `not_active`, `extend_not_yet`)."""


class RateLimited(APIError):
    """429: too many tries; try again after `retry_after` seconds."""

    def __init__(self, status, error, detail, body=None):
        super().__init__(status, error, detail, body)
        self.retry_after = int(self.body.get("retry_after", 0) or 0)


class ServerError(APIError):
    """5xx: the server failed."""


class ConnectionFailed(CtfSdkError):
    """The server could not be reached (or did not answer in time) after the
    client's retries; `__cause__` is the last network error."""


class TaskTimeout(CtfSdkError, TimeoutError):
    """`client.admin.tasks.wait` gave up; `task` is the last record read."""

    def __init__(self, task, timeout: float):
        self.task = task
        super().__init__(
            f"task {task.id} still {task.status} after {timeout:g} s "
            f"({task.progress.done}/{task.progress.total} done)"
        )


_BY_STATUS = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def error_for(status: int, body) -> APIError:
    """The exception for an error answer (`body` is its decoded JSON, or text)."""
    if isinstance(body, dict):
        # The attempt route's 429 says `result` and `message`; others use the
        # one error shape.
        error = body.get("error") or body.get("result") or "error"
        detail = body.get("detail") or body.get("message") or ""
    else:
        error, detail = "error", str(body)[:500]
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return cls(status, error, detail, body if isinstance(body, dict) else None)
