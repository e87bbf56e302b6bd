#!/usr/bin/env bash
# `just fuzz`: schemathesis against the real provisioning server.
#
# Builds the server, starts it on 127.0.0.1:0 with a temp SQLite file,
# profile `current`, the orchestrator seed (hmac partner stripe-test), the
# wizard's personal-key gate turned on (so the phx_ routes are reached with a
# live key; today's server mints none for the wizard by default) and
# fuzz/seed.toml (two throttled partners), and a gateway-token mint that
# points at a closed port (its documented 503, never a real gateway), makes live credentials by real
# signups over HTTP (fuzz/signup.py), then runs schemathesis on
# <server>/openapi.json with fuzz/hooks.py. Stops the server and exits
# non-zero on any failure, after printing schemathesis's summary.
#
# Environment (all optional):
#   FUZZ_EXAMPLES    max generated cases per operation (default 100)
#   FUZZ_SEED        schemathesis and hooks seed (default 20261)
#   FUZZ_TIMEOUT     hard limit on the schemathesis run, seconds (default 900)
#   FUZZ_MIN_CASES   fail unless at least this many cases ran (default 1000;
#                    at least 1: a run that generated nothing never passes)
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${FUZZ_EXAMPLES:-100}
SEED=${FUZZ_SEED:-20261}
TIMEOUT=${FUZZ_TIMEOUT:-900}
MIN_CASES=${FUZZ_MIN_CASES:-1000}
if ! [[ $MIN_CASES =~ ^[0-9]+$ ]] || (( MIN_CASES < 1 )); then
    echo "fuzz: FUZZ_MIN_CASES must be a whole number of at least 1, not '$MIN_CASES'" >&2
    exit 2
fi
CHECKS=${FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance}

root=$PWD
out=$root/target/fuzz
venv=$out/venv
mkdir -p "$out"
started=$SECONDS

# 1. schemathesis, pinned, in its own virtualenv. A failed install (PyPI
# unreachable) fails the run: there is no silent skip.
if [[ "$("$venv/bin/st" --version 2>/dev/null || true)" != *"version $SCHEMATHESIS_VERSION"* ]]; then
    echo "== installing schemathesis==$SCHEMATHESIS_VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"; then
        echo "fuzz: FAILED to install schemathesis==$SCHEMATHESIS_VERSION (is PyPI reachable?)" >&2
        rm -rf "$venv"
        exit 1
    fi
fi
"$venv/bin/st" --version

# 2. The server.
echo "== building provisioning-server"
cargo build --locked -q -p provisioning-server --bin provisioning-server
server_bin=${CARGO_TARGET_DIR:-$root/target}/debug/provisioning-server

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")
server_pid=
cleanup() {
    local status=$?
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -s "$tmp/server.log" ]]; then
        cp "$tmp/server.log" "$out/server.log"
        echo "fuzz: server log kept in $out/server.log" >&2
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

admin_token=fuzz-admin-$RANDOM$RANDOM
"$server_bin" --bind 127.0.0.1:0 --profile current \
    --database-url "sqlite://$tmp/fuzz.db?mode=rwc" \
    --seed fixtures/seeds/orchestrator.toml --seed fixtures/seeds/wizard-personal-key.toml \
    --seed fuzz/seed.toml \
    --wizard-gateway-url http://127.0.0.1:9 \
    --admin-token "$admin_token" \
    >"$tmp/server.out" 2>"$tmp/server.log" </dev/null &
server_pid=$!

url=
for _ in $(seq 1 200); do
    url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$tmp/server.out")
    [[ -n "$url" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "fuzz: the server exited at start" >&2; cat "$tmp/server.log" >&2; exit 1; }
    sleep 0.05
done
[[ -n "$url" ]] || { echo "fuzz: the server did not print its address within 10 s" >&2; exit 1; }
echo "== server $url (pid $server_pid)"

# 3. Live credentials, by real signups.
"$venv/bin/python" fuzz/signup.py "$url" "$tmp/credentials.json"

# 4. schemathesis. Its output and report go through `redact`: a failing
# case's reproduction shows the body, which may hold a live credential.
redact() { sed -E 's/(ph[arx]_)[A-Za-z0-9_-]{8,}/\1***/g'; }
echo "== schemathesis: $EXAMPLES examples per operation, seed $SEED, checks $CHECKS"
set +e
# From target/fuzz, where schemathesis keeps its .schemathesis/ replay cache.
(cd "$out" && FUZZ_CREDENTIALS=$tmp/credentials.json FUZZ_SEED=$SEED \
    PYTHONPATH=$root/fuzz SCHEMATHESIS_HOOKS=hooks \
    timeout --kill-after=10 "$TIMEOUT" \
    "$venv/bin/st" run "$url/openapi.json" \
    --checks "$CHECKS" \
    --max-examples "$EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 10 \
    --suppress-health-check filter_too_much \
    --report junit --report-junit-path "$out/junit.xml" \
    </dev/null 2>&1) | redact | tee "$out/schemathesis.txt"
st_status=${PIPESTATUS[0]}
set -e
if [[ -f "$out/junit.xml" ]]; then
    redact <"$out/junit.xml" >"$out/junit.xml.tmp" && mv "$out/junit.xml.tmp" "$out/junit.xml"
fi
if [[ $st_status -eq 124 || $st_status -eq 137 ]]; then
    echo "fuzz: schemathesis did not finish within $TIMEOUT s" >&2
fi

# 5. What the server saw: answers by status, from the admin journal (kept
# in target/fuzz/journal.json; credentials in it are masked by the server).
curl -fsS -H "Authorization: Bearer $admin_token" "$url/_admin/journal" | redact >"$out/journal.json"
IFS='|' read -r requests statuses server_errors < <(
    "$venv/bin/python" -c '
import collections, json, sys
entries = json.load(sys.stdin)["entries"]
count = collections.Counter(e["status"] for e in entries)
errors = sum(n for status, n in count.items() if status >= 500)
print(len(entries), " ".join(f"{s}: {n}" for s, n in sorted(count.items())), errors, sep="|")
' <"$out/journal.json")
echo "== the server answered $requests requests; by status: $statuses"

cases=$(sed -nE 's/^ *([0-9]+) generated.*/\1/p' "$out/schemathesis.txt" | tail -1)
cases=${cases:-0}
echo "== $cases generated cases; $(( SECONDS - started )) s in all"

if [[ $st_status -ne 0 ]]; then
    echo "fuzz: FAILED (schemathesis exit $st_status; output in $out/schemathesis.txt)" >&2
    exit 1
fi
if [[ ${server_errors:-1} -ne 0 ]]; then
    echo "fuzz: FAILED (${server_errors:-unknown} answers with a 5xx in the journal)" >&2
    exit 1
fi
if (( cases < MIN_CASES )); then
    echo "fuzz: FAILED (only $cases cases; at least $MIN_CASES wanted)" >&2
    exit 1
fi
echo "fuzz: OK"
