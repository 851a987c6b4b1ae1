"""File Viewer: a tiny document browser. Reads nothing but its own files... right?"""

import html
import os
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")
PORT = int(os.environ.get("PORT", "8080"))
# The flag is never read here: the platform starts each team's instance with
# its own flag in the FLAG environment variable, and that is where it stays.

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>File Viewer</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 2rem auto">
<h1>File Viewer</h1>{body}</body></html>
"""


class Handler(BaseHTTPRequestHandler):
    server_version = "FileViewer/1.0"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            items = "".join(
                f'<li><a href="/view?file={urllib.parse.quote(name)}">'
                f"{html.escape(name)}</a></li>"
                for name in sorted(os.listdir(FILES))
            )
            return self.reply(200, PAGE.format(body=f"<ul>{items}</ul>"), "text/html")
        if url.path == "/view":
            name = urllib.parse.parse_qs(url.query).get("file", [""])[0]
            # "Security": no slashes at the start, so no absolute paths.
            name = name.lstrip("/")
            try:
                with open(os.path.join(FILES, name), "rb") as handle:
                    data = handle.read(64 * 1024)
            except OSError:
                return self.reply(404, "no such file\n", "text/plain")
            return self.reply(200, data, "text/plain; charset=utf-8")
        return self.reply(404, "not found\n", "text/plain")

    def reply(self, status, body, content_type):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    # Inside the container: listen on every interface.
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)  # noqa: S104
    server.serve_forever()
