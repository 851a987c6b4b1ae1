"""The HTTP layer: JSON in and out over the standard library, a timeout on
every request, retries with backoff when the server cannot be reached."""

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from ctfsdk.errors import ConnectionFailed, error_for

# Errors that say the request never reached the server: safe to send again,
# whatever the method. After any other network error (a reset, a timeout) the
# server may have acted on it: only a GET, which changes nothing, goes again.
NOT_SENT = (ConnectionRefusedError, socket.gaierror)


class Transport:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        user_agent: str = "ctfsdk/0.1",
    ):
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"base_url must be http(s)://..., not {base_url!r}")
        self.base_url = base_url.rstrip("/") + "/api/v1/"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.headers = {
            "Authorization": f"Token {token}",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        # No proxy for the platform: scripts often run beside it.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def url(self, path: str, params: dict | None = None) -> str:
        query = {
            k: ("true" if v is True else "false" if v is False else v)
            for k, v in (params or {}).items()
            if v is not None
        }
        url = self.base_url + path.lstrip("/")
        return url + ("?" + urllib.parse.urlencode(query) if query else "")

    def request(self, method: str, path: str, *, params=None, body=None, raw=False):
        """The decoded JSON answer (bytes when `raw`); raises APIError for an
        error answer and ConnectionFailed when the server stays unreachable."""
        data = None
        headers = dict(self.headers)
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
            self.url(path, params), data=data, headers=headers, method=method
        )
        for attempt in range(self.retries + 1):
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    content = response.read()
                    break
            except urllib.error.HTTPError as error:
                raise error_for(error.code, _decode(error.read())) from None
            except (OSError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", error)
                retry = isinstance(reason, NOT_SENT) or method == "GET"
                if not retry or attempt == self.retries:
                    raise ConnectionFailed(
                        f"{method} {request.full_url}: {reason}"
                    ) from error
                time.sleep(self.backoff * 2**attempt)
        return content if raw else _decode(content)


def _decode(content: bytes):
    try:
        return json.loads(content) if content else None
    except ValueError:
        return content.decode(errors="replace")
