#!/usr/bin/env bash
# Start throw-away PostgreSQL and Redis servers on free loopback ports, run the
# given command against them (DATABASE_URL, REDIS_URL exported), then stop them
# and delete their data, whatever happened. Used by `make test`.
set -euo pipefail

find_bin() {  # find_bin NAME: NAME on the PATH, or in Debian's PostgreSQL folder
  command -v "$1" 2>/dev/null || ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

INITDB=$(find_bin initdb); PG_CTL=$(find_bin pg_ctl); REDIS_SERVER=$(find_bin redis-server)
for bin in INITDB PG_CTL REDIS_SERVER; do
  [ -n "${!bin}" ] || { echo "services.sh: ${bin,,} not found; run 'make test-deps'" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/ctf-test-services.XXXXXX)
chmod 755 "$WORK"
PG_PORT=$(free_port); REDIS_PORT=$(free_port)
PG_DATA="$WORK/pg"

# PostgreSQL refuses to run as root: run it as the `postgres` system user then.
AS_PG=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  AS_PG=(runuser -u postgres --)
  mkdir -p "$PG_DATA" && chown postgres "$PG_DATA"
fi

cleanup() {
  set +e
  "${AS_PG[@]}" "$PG_CTL" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
  [ -f "$WORK/redis.pid" ] && kill "$(cat "$WORK/redis.pid")" 2>/dev/null
  sleep 0.2
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

"${AS_PG[@]}" "$INITDB" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log" >&2; exit 2; }
# Durability off: the data is thrown away, and tests run much faster.
"${AS_PG[@]}" "$PG_CTL" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start -o \
  "-h 127.0.0.1 -p $PG_PORT -k $PG_DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  >/dev/null || { cat "$PG_DATA/server.log" >&2; exit 2; }

"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log" --dir "$WORK"
for _ in $(seq 50); do
  python3 - "$REDIS_PORT" <<'PY' && break
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"PING\r\n"); sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
PY
  sleep 0.1
done

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/ctf"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export REDIS_SERVER_BIN="$REDIS_SERVER"
export SECRET_KEY="test-secret-key-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export FLAG_SECRET="test-flag-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
echo "services.sh: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
"$@"
