#!/usr/bin/env bash
# HTTP client benchmark: MLDeployHTTP vs URLSession vs one reused raw curl handle vs wrk, against
# nginx serving a small JSON body on loopback. Release build. Prints medians and ratios.
#
#   Benchmarks/run-http-benchmark.sh [--seconds S] [--rounds R] [--concurrency C]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
"$root/scripts/bootstrap.sh"
for tool in nginx wrk; do
    command -v "$tool" >/dev/null || { sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo; $sudo_cmd apt-get install -y -qq nginx-light wrk; break; }
done

work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location = /small.json { default_type application/json; return 200 '{"status":"ok","service":"mldeploy-bench","values":[1,2,3,4,5,6,7,8,9,10],"message":"a small json body"}'; }
    }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/small.json" && break; sleep 0.1; done

swift build -c release --package-path "$here" >/dev/null
"$here/.build/release/HTTPBenchmark" "http://127.0.0.1:$port/small.json" "$@"
