#!/usr/bin/env bash
# Throw-away Docker daemons, a registry and TLS certificates for the tests and
# benchmarks. Each daemon gets its own socket, data-root, exec-root, pid file,
# bridge and subnet (stopping a daemon that shares a bridge, or has none, has
# removed docker0 on these machines); docker0 is never touched.
#
#   tests/dockerd.sh start DIR BRIDGE [TLS_PORT CERT_DIR]   start a daemon (root)
#   tests/dockerd.sh stop DIR                               stop it, remove its bridge
#   tests/dockerd.sh certs DIR         a CA, server and client certificates, and a
#                                      client certificate from a foreign CA
#   tests/dockerd.sh registry DIR PORT     start Debian's docker-registry on loopback
#   tests/dockerd.sh registry-stop DIR
set -euo pipefail

wait_for() {  # wait_for SECONDS COMMAND...: retry until it succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

ping_socket() {  # ping_socket PATH: the Engine API answers on a Unix socket
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
sys.exit(0 if b"OK" in s.recv(4096) else 1)
PY
}

free_subnet() {  # free_subnet SEED: a 10.x.y.0/24 no interface or route uses
  local n=$(( $(cksum <<<"$1" | cut -d' ' -f1) % 40000 )) x y
  for _ in $(seq 200); do
    x=$((100 + n / 250 % 150)); y=$((n % 250 + 1))
    if ! ip -4 -o addr show | grep -q " 10\.$x\.$y\." \
        && ! ip -4 route show | grep -q "^10\.$x\.$y\."; then
      echo "10.$x.$y"; return
    fi
    n=$(( (n + 7919) % 40000 ))
  done
  echo "dockerd.sh: no free 10.x.y.0/24 subnet" >&2; return 1
}

drop_bridge() {  # drop_bridge NAME: the bridge and the iptables rules naming it
  local table line
  ip link del "$1" 2>/dev/null || true
  for table in nat filter; do
    iptables -t "$table" -S 2>/dev/null | grep -E -- "(-i|-o) $1( |$)" | while read -r line; do
      # shellcheck disable=SC2086  # the rule is a list of arguments
      iptables -t "$table" ${line/-A /-D } 2>/dev/null || true
    done
  done
}

start() {  # start DIR BRIDGE [TLS_PORT CERT_DIR]
  local dir=$1 bridge=$2 tls_port=${3:-} certs=${4:-} net
  mkdir -p "$dir"
  net=$(free_subnet "$bridge-$$")
  ip link add name "$bridge" type bridge
  echo "$bridge" >"$dir/bridge"
  ip addr add "$net.1/24" dev "$bridge"
  ip link set "$bridge" up
  local hosts=(--host "unix://$dir/docker.sock")
  if [ -n "$tls_port" ]; then
    hosts+=(--host "tcp://127.0.0.1:$tls_port" --tlsverify
      --tlscacert "$certs/ca.pem" --tlscert "$certs/server-cert.pem"
      --tlskey "$certs/server-key.pem")
  fi
  # setsid: a Ctrl-C in the terminal reaches the harness, which stops us in order.
  setsid dockerd "${hosts[@]}" --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" --bridge "$bridge" --log-level warn \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  if ! wait_for 60 ping_socket "$dir/docker.sock"; then
    echo "dockerd.sh: dockerd in $dir did not start:" >&2
    tail -20 "$dir/dockerd.log" >&2
    return 1
  fi
}

kill_pidfile() {  # kill_pidfile FILE SECONDS: TERM, then KILL after SECONDS
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_for "$2" bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
}

stop() {  # stop DIR
  local dir=$1 pid mount ids
  # A daemon that still answers removes its containers and networks first:
  # the bridges of its networks would outlive it on the host.
  if [ -S "$dir/docker.sock" ] && command -v docker >/dev/null; then
    ids=$(timeout 20 docker -H "unix://$dir/docker.sock" ps -aq 2>/dev/null) || ids=
    # shellcheck disable=SC2086  # a list of ids
    [ -z "$ids" ] || timeout 60 docker -H "unix://$dir/docker.sock" rm -f $ids >/dev/null 2>&1 || true
    timeout 30 docker -H "unix://$dir/docker.sock" network prune -f >/dev/null 2>&1 || true
  fi
  kill_pidfile "$dir/docker.pid" 20
  kill_pidfile "$dir/exec/containerd/containerd.pid" 5
  # Shims of a daemon that was killed outlive it; they name its folder.
  for pid in $(grep -l -s -F "$dir/" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r mount; do
    umount -l "$mount" 2>/dev/null || true
  done
  [ -f "$dir/bridge" ] && drop_bridge "$(cat "$dir/bridge")"
  rm -f "$dir/bridge"
}

certs() {  # certs DIR
  local dir=$1 name
  mkdir -p "$dir"
  cd "$dir"
  key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
  key ca-key.pem
  openssl req -x509 -new -key ca-key.pem -out ca.pem -days 2 -subj "/CN=ctf test CA" 2>/dev/null
  key foreign-ca-key.pem
  openssl req -x509 -new -key foreign-ca-key.pem -out foreign-ca.pem -days 2 \
    -subj "/CN=someone else's CA" 2>/dev/null
  sign() {  # sign NAME CA USAGE
    key "$1-key.pem"
    openssl req -new -key "$1-key.pem" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial \
      -out "$1-cert.pem" -days 2 -extfile "$1.ext" 2>/dev/null
  }
  sign server ca serverAuth
  sign client ca clientAuth
  sign foreign-client foreign-ca clientAuth
  for name in *.csr *.ext *.srl; do rm -f "$name"; done
  chmod 600 ./*-key.pem
}

registry() {  # registry DIR PORT
  local dir=$1 port=$2
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
EOF
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  if ! wait_for 30 python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/v2/', timeout=1)"; then
    echo "dockerd.sh: the registry did not start:" >&2; tail -20 "$dir/registry.log" >&2
    return 1
  fi
}

registry_stop() { kill_pidfile "$1/registry.pid" 5; }

case "${1:-}" in
  start) start "${@:2}" ;;
  stop) stop "${@:2}" ;;
  certs) certs "${@:2}" ;;
  registry) registry "${@:2}" ;;
  registry-stop) registry_stop "${@:2}" ;;
  *) echo "usage: $0 start|stop|certs|registry|registry-stop ..." >&2; exit 2 ;;
esac
