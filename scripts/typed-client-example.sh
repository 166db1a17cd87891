#!/usr/bin/env bash
# Builds and runs examples/typed-client against a real `mldeploy serve`: the command plugin
# (`swift package mldeploy-client`) fetches the `cars` service's OpenAPI document into the example's
# target, swift-openapi-generator's build plugin generates a typed client, and the example calls the
# service through it over MLDeploy's transport. Exits non-zero when any step fails or the answer is
# wrong. Slow the first time (it builds the generator): .ci/run runs it as a step of its own.
#
#     scripts/typed-client-example.sh [path/to/mldeploy]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mldeploy=${1:-}
if [ -z "$mldeploy" ]; then
    (cd "$root" && swift build --product mldeploy >/dev/null)
    mldeploy="$root/.build/debug/mldeploy"
fi
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work" "$root/examples/typed-client/Sources/CarsClient/openapi.json"
}
trap cleanup EXIT
password="Typed-Client-1"

# A server on a port of its choosing; its ready line says which.
env -u MLDEPLOY_TARGET MLDEPLOY_ADMIN_PASSWORD=$password HOME="$work" \
    "$mldeploy" serve --port 0 --data-dir "$work/data" > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
    grep -q "listening on http://" "$work/serve.log" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log"; echo "typed-client example: the server did not start" >&2; exit 1; }
    sleep 0.1
done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$work/serve.log" | head -1)
[ -n "$url" ] || { cat "$work/serve.log"; echo "typed-client example: the server never said where it listens" >&2; exit 1; }

# The service the client is generated for.
printf 'answer = 30 - 0.05 * hp - 3 * wt\n' > "$work/cars.py"
HOME="$work" MLDEPLOY_USERNAME=admin MLDEPLOY_PASSWORD=$password "$mldeploy" --target "mlserver+$url" \
    deploy cars --version 1.0 --code "$work/cars.py" --input hp=numeric --input wt=numeric --output answer=numeric

cd "$root/examples/typed-client"
plugin() { swift package --allow-network-connections all --allow-writing-to-package-directory mldeploy-client "$@"; }
# Bad input fails, says why, and writes nothing.
expect_failure() {
    local pattern=$1; shift
    if plugin "$@" > "$work/plugin.out" 2>&1; then
        cat "$work/plugin.out"; echo "typed-client example: the plugin accepted $*" >&2; exit 1
    fi
    grep -q "$pattern" "$work/plugin.out" || { cat "$work/plugin.out"; echo "typed-client example: no '$pattern' in the plugin's error" >&2; exit 1; }
    [ ! -e Sources/CarsClient/openapi.json ] || { echo "typed-client example: a failed run wrote openapi.json" >&2; exit 1; }
}
expect_failure "Missing --url" --service cars --version 1.0 --target cars-client
expect_failure "no service cars version 9.9" --service cars --version 9.9 --url "$url" --target cars-client --username admin --password "$password"
expect_failure "refused the request (401)" --service cars --version 1.0 --url "$url" --target cars-client
expect_failure "Signing in to" --service cars --version 1.0 --url "$url" --target cars-client --username admin --password wrong
expect_failure "no-such-target" --service cars --version 1.0 --url "$url" --target no-such-target --username admin --password "$password"

plugin --service cars --version 1.0 --url "$url" --target cars-client --username admin --password "$password"
swift build --product cars-client
answer=$(swift run --skip-build cars-client "$url" admin "$password")
echo "$answer"
# 30 - 6 - 8.4
case "$answer" in
    *"= 15.6"*) echo "typed-client example: OK" ;;
    *) echo "typed-client example: wrong answer" >&2; exit 1 ;;
esac
