#!/usr/bin/env bash
# Runs a command with a private PostgreSQL cluster: initdb into a temporary directory (as the
# postgres user when run as root: initdb refuses root), a free port on loopback, fsync on and
# Debian's defaults otherwise; the database's URI is in $MLDEPLOY_BENCH_URI. The cluster is
# stopped and removed when the command ends.
#   Benchmarks/with-postgres.sh COMMAND [ARGUMENTS…]
set -euo pipefail
bin="/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin"
dir="$(mktemp -d)"
chmod 755 "$dir"
as_postgres() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
as_postgres "$bin/initdb" -D "$dir/data" -U mldeploy --auth=trust >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
as_postgres "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 -c max_connections=200 >"$dir/log" 2>&1 &
pg=$!
trap 'kill $pg 2>/dev/null; wait $pg 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do "$bin/pg_isready" -h 127.0.0.1 -p "$port" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/createdb" -h 127.0.0.1 -p "$port" -U mldeploy bench
export MLDEPLOY_BENCH_URI="postgresql://mldeploy@127.0.0.1:$port/bench?sslmode=disable"
"$@"
