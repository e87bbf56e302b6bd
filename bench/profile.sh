#!/usr/bin/env bash
# Callgrind profile of provisioning-server under a bounded signup load:
# N full signups (account request -> token -> resources) from C clients,
# each client one keep-alive connection. Used for "Profile" in BENCHMARKS.md.
# With LOOKUPS=L, each client then sends L `GET /api/users/@me/` with the
# access token of its last signup (INTROSPECT=1: L introspections as the
# gateway instead), to profile the read paths.
#
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR=target/prof \
#       cargo build --release -p provisioning-server
#   N=1000 C=8 bench/profile.sh                # writes target/prof/callgrind.out
#   N=1 C=1 LOOKUPS=3000 bench/profile.sh      # the users/@me path
#   callgrind_annotate --inclusive=yes target/prof/callgrind.out | less
#
# Needs valgrind and python3. Start-up (migrations, seeds) is included; it
# is about 1% of the instructions at N=1000.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/prof/release/provisioning-server}
OUT=${OUT:-$ROOT/target/prof/callgrind.out}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$OUT" \
    "$BIN" --bind 127.0.0.1:0 --region us --profile current \
    --database-url "sqlite://$WORK/p.db?mode=rwc" \
    --seed "$ROOT/fixtures/seeds/login-user.toml" >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
for _ in $(seq 600); do grep -q "listening on" "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's#listening on http://##p' "$WORK/stdout")
[ -n "$ADDR" ] || { echo "profile: the server did not start" >&2; kill "$PID"; exit 1; }
python3 - "$ADDR" "${N:-300}" "${C:-8}" "${LOOKUPS:-0}" "${INTROSPECT:-0}" <<'PY'
import base64, hashlib, http.client, json, os, sys, threading, urllib.parse
host, port = sys.argv[1].split(":"); n_total, clients = int(sys.argv[2]), int(sys.argv[3])
lookups, introspect = int(sys.argv[4]), sys.argv[5] == "1"
GATEWAY = "Basic " + base64.b64encode(b"llm-gateway:llm-gateway-dev-secret").decode()
SCOPES = ["user:read", "project:read", "llm_gateway:read", "dashboard:write", "insight:write",
          "query:read", "notebook:write", "event_definition:write"]
lock, taken, errors = threading.Lock(), [0], []
def take():
    with lock:
        if taken[0] >= n_total:
            return None
        taken[0] += 1
        return taken[0]
def client():
    conn = http.client.HTTPConnection(host, int(port))
    def call(path, body, ctype, extra=None):
        headers = {"API-Version": "0.1d", "Content-Type": ctype, **(extra or {})}
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse(); data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status} {data[:200]!r}")
        return json.loads(data)
    token = None
    while (n := take()) is not None:
        try:
            verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            answer = call("/api/agentic/provisioning/account_requests", json.dumps({
                "email": f"prof-{os.getpid()}-{n}@bench.example.com", "name": "Bench",
                "client_id": "posthog-wizard", "scopes": SCOPES, "code_challenge": challenge,
                "code_challenge_method": "S256", "configuration": {"region": "US"}}),
                "application/json")
            token = call("/api/agentic/oauth/token", urllib.parse.urlencode({
                "grant_type": "authorization_code", "code": answer["oauth"]["code"],
                "code_verifier": verifier}), "application/x-www-form-urlencoded")
            call("/api/agentic/provisioning/resources", "{}", "application/json",
                 {"Authorization": "Bearer " + token["access_token"]})
        except Exception as error:
            with lock:
                errors.append(repr(error))
    for _ in range(lookups if token else 0):
        if introspect:
            body = urllib.parse.urlencode({"token": token["access_token"]})
            conn.request("POST", "/oauth/introspect", body=body, headers={
                "Authorization": GATEWAY, "Content-Type": "application/x-www-form-urlencoded"})
        else:
            conn.request("GET", "/api/users/@me/",
                         headers={"Authorization": "Bearer " + token["access_token"]})
        response = conn.getresponse(); response.read()
        if response.status != 200:
            with lock:
                errors.append(f"lookup: HTTP {response.status}")
            break
threads = [threading.Thread(target=client) for _ in range(clients)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(f"profile: {n_total - len(errors)} signups, {len(errors)} errors {errors[:2]}")
sys.exit(1 if errors else 0)
PY
kill -TERM "$PID"; wait "$PID" || true
echo "profile: $OUT"
