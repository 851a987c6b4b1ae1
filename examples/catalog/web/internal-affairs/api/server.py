"""Internal API: not published to the internet, so it needs no authentication."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("API_PORT", "5000"))
FLAG = os.environ.get("FLAG", "CTF{local_test_flag}")

ROUTES = {
    "/": {
        "service": "hr-internal",
        "endpoints": ["/health", "/v1/staff", "/v1/admin/secret"],
    },
    "/health": {"ok": True},
    "/v1/staff": {"staff": ["alice", "bob", "carol"]},
    "/v1/admin/secret": {"secret": FLAG},
}


class Handler(BaseHTTPRequestHandler):
    server_version = "hr-internal/0.3"

    def do_GET(self):
        payload = ROUTES.get(self.path.split("?", 1)[0])
        status = 200 if payload is not None else 404
        data = json.dumps(payload or {"error": "not found"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    # Inside the container: listen on every interface.
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)  # noqa: S104
    server.serve_forever()
