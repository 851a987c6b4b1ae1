"""Link Preview: fetches a URL server-side and shows the start of the page."""

import html
import os
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8080"))
BLOCKED_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}  # noqa: S104

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Link Preview</title></head>
<body style="font-family: sans-serif; max-width: 48rem; margin: 2rem auto">
<h1>Link Preview</h1>
<form action="/preview"><input name="url" size="50" placeholder="https://example.com/">
<button>Preview</button></form>{body}</body></html>
"""


def fetch(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("only http and https links can be previewed")
    if (parts.hostname or "") in BLOCKED_HOSTS:
        raise ValueError("nice try: no previews of this server itself")
    # The scheme is checked above; the SSRF (any host) is the challenge.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": "LinkPreview/1.0"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.read(2048).decode(errors="replace")


class Handler(BaseHTTPRequestHandler):
    server_version = "LinkPreview/1.0"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            return self.reply(200, PAGE.format(body=""))
        if url.path == "/preview":
            target = urllib.parse.parse_qs(url.query).get("url", [""])[0]
            try:
                body = f"<h2>Preview</h2><pre>{html.escape(fetch(target))}</pre>"
            except Exception as exc:  # any failure is shown to the player
                body = f"<p>Could not preview: {html.escape(str(exc))}</p>"
            return self.reply(200, PAGE.format(body=body))
        return self.reply(404, PAGE.format(body="<p>Not found.</p>"))

    def reply(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    # Inside the container: listen on every interface.
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)  # noqa: S104
    server.serve_forever()
