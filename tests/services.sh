#!/usr/bin/env bash
# Start throw-away PostgreSQL and Redis servers on free loopback ports (and, as
# root, two Docker daemons and a registry: tests/dockerd.sh), run the given
# command against them (DATABASE_URL, REDIS_URL, TEST_DOCKER_* exported), then
# stop them and delete their data, whatever happened. Used by `make test`.
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

DOCKERD_SH="$(cd "$(dirname "$0")" && pwd)/dockerd.sh"
cleanup() {
  set +e
  for node in "$WORK"/docker/*/; do [ -d "$node" ] && "$DOCKERD_SH" stop "${node%/}"; done
  [ -d "$WORK/registry" ] && "$DOCKERD_SH" registry-stop "$WORK/registry"
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

# Docker nodes for tests/nodes: alpha on a Unix socket, beta on TCP with TLS
# client certificates (and a socket of its own for the tests), one registry.
# Bridges are named after this shell's PID so two runs never share one.
if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null && command -v docker-registry >/dev/null; then
  DOCKER_PORT=$(free_port); REGISTRY_PORT=$(free_port)
  "$DOCKERD_SH" certs "$WORK/certs"
  "$DOCKERD_SH" start "$WORK/docker/alpha" "ctf$$a"
  "$DOCKERD_SH" start "$WORK/docker/beta" "ctf$$b" "$DOCKER_PORT" "$WORK/certs"
  "$DOCKERD_SH" registry "$WORK/registry" "$REGISTRY_PORT"
  C="$WORK/certs"
  export TEST_DOCKER_NODES="[{\"name\": \"alpha\", \"url\": \"unix://$WORK/docker/alpha/docker.sock\"}, {\"name\": \"beta\", \"url\": \"tcp://127.0.0.1:$DOCKER_PORT\", \"socket\": \"unix://$WORK/docker/beta/docker.sock\", \"tls_ca\": \"$C/ca.pem\", \"tls_cert\": \"$C/client-cert.pem\", \"tls_key\": \"$C/client-key.pem\"}]"
  export TEST_DOCKER_CERTS="$C" TEST_REGISTRY="127.0.0.1:$REGISTRY_PORT"
  export TEST_DOCKERD_SH="$DOCKERD_SH" TEST_DOCKER_WORK="$WORK/docker"
  echo "services.sh: Docker on $WORK/docker/alpha/docker.sock and tcp://127.0.0.1:$DOCKER_PORT (TLS), registry on $TEST_REGISTRY"
else
  echo "services.sh: not root or no dockerd/docker-registry: Docker tests will skip" >&2
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/ctf"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export REDIS_SERVER_BIN="$REDIS_SERVER"
export SECRET_KEY="test-secret-key-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export FLAG_SECRET="test-flag-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
echo "services.sh: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
"$@"
