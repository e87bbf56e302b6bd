#!/usr/bin/env bash
# Callgrind profile of llm-gateway-mock answering authenticated messages:
# the provisioning server runs normally (not profiled), one signup gives a
# pha_, then C clients (one keep-alive connection each) send M messages in
# all to the gateway, which runs under callgrind and introspects each one.
# The bench's request: POST /wizard/v1/messages, "framework: next-js".
#
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR=target/prof \
#       cargo build --release -p provisioning-server -p llm-gateway-mock
#   M=3000 C=8 bench/profile-gateway.sh     # writes target/prof/callgrind-gateway.out
#   M=0 bench/profile-gateway.sh            # start-up only, to subtract
#   callgrind_annotate --inclusive=yes target/prof/callgrind-gateway.out | less
#
# TOOL=dhat counts heap blocks instead. Needs valgrind and python3.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${DIR:-$ROOT/target/prof/release}
OUT=${OUT:-$ROOT/target/prof/${TOOL:-callgrind}-gateway.out}
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Waits for `listening on` in $1 and prints the address.
listening() {
    for _ in $(seq 600); do grep -q "listening on" "$1" 2>/dev/null && break; sleep 0.1; done
    local address
    address=$(sed -n 's#listening on http://##p' "$1")
    [ -n "$address" ] || { echo "profile: no 'listening on' in $1" >&2; exit 1; }
    echo "$address"
}

RUST_LOG=warn "$DIR/provisioning-server" --bind 127.0.0.1:0 --region us --profile current \
    --database-url "sqlite://$WORK/p.db?mode=rwc" --wizard-gateway-url "" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
PIDS+=($!)
SERVER=$(listening "$WORK/server.out")

case ${TOOL:-callgrind} in
    callgrind) PROFILER=(valgrind --tool=callgrind --callgrind-out-file="$OUT") ;;
    dhat) PROFILER=(valgrind --tool=dhat --dhat-out-file="$OUT") ;;
    *) echo "profile: TOOL is callgrind or dhat" >&2; exit 1 ;;
esac
RUST_LOG=warn "${PROFILER[@]}" "$DIR/llm-gateway-mock" --bind 127.0.0.1:0 --region us \
    --introspection-url "http://$SERVER/oauth/introspect" \
    >"$WORK/gateway.out" 2>"$WORK/gateway.err" &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
GATEWAY=$(listening "$WORK/gateway.out")

python3 - "$SERVER" "$GATEWAY" "${M:-3000}" "${C:-8}" <<'PY'
import base64, hashlib, http.client, json, os, sys, threading, urllib.parse
server, gateway, total, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def post(conn, path, body, ctype, extra=None):
    conn.request("POST", path, body=body, headers={"API-Version": "0.1d", "Content-Type": ctype,
                                                   **(extra or {})})
    response = conn.getresponse(); data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status} {data[:200]!r}")
    return json.loads(data)
conn = http.client.HTTPConnection(*server.split(":"))
verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
answer = post(conn, "/api/agentic/provisioning/account_requests", json.dumps({
    "email": "profile@bench.example.com", "name": "Bench", "client_id": "posthog-wizard",
    "scopes": ["user:read", "project:read", "llm_gateway:read"], "code_challenge": challenge,
    "code_challenge_method": "S256", "configuration": {"region": "US"}}), "application/json")
token = post(conn, "/api/agentic/oauth/token", urllib.parse.urlencode({
    "grant_type": "authorization_code", "code": answer["oauth"]["code"],
    "code_verifier": verifier}), "application/x-www-form-urlencoded")["access_token"]
body = json.dumps({"model": "claude-bench", "max_tokens": 64,
                   "messages": [{"role": "user", "content": "framework: next-js"}]})
lock, left, errors = threading.Lock(), [total], []
def client():
    conn = http.client.HTTPConnection(*gateway.split(":"))
    while True:
        with lock:
            if left[0] <= 0:
                return
            left[0] -= 1
        try:
            post(conn, "/wizard/v1/messages", body, "application/json",
                 {"Authorization": "Bearer " + token})
        except Exception as error:
            with lock:
                errors.append(repr(error))
            return
threads = [threading.Thread(target=client) for _ in range(clients)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(f"profile: {total} messages from {clients} clients, {len(errors)} errors {errors[:2]}")
sys.exit(1 if errors else 0)
PY
kill -TERM "$GATEWAY_PID"; wait "$GATEWAY_PID" || true
echo "profile: $OUT"
