"""Live credentials for the fuzz run, by real signups over HTTP.

Usage: signup.py <server url> <output json>

Signs up twice the way the wizard does (PKCE account request with the
wizard's signup scopes, code exchange, resource creation): once as
`posthog-wizard` (unlimited) and once as `fuzz-throttled-pkce` (over its
limits afterwards). Writes the tokens, keys and team ids to the output file
(mode 0600) for fuzz/hooks.py. Standard library only.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

API_VERSION = "0.1d"
# protocol::scope::WIZARD_SIGNUP_SCOPES
SIGNUP_SCOPES = [
    "user:read",
    "project:read",
    "llm_gateway:read",
    "dashboard:write",
    "insight:write",
    "query:read",
    "notebook:write",
    "event_definition:write",
]
# Also asked for (within the wizard's ceiling; `wizard doctor` uses it), so
# the health issues endpoint answers more than 403.
EXTRA_SCOPES = ["health_issue:read"]
# fuzz/seed.toml, partner fuzz-throttled-hmac.
THROTTLED_HMAC_SECRET = b"whsec_fuzz_throttled_fake"


def call(base, method, path, body=None, content_type=None, headers=None):
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("API-Version", API_VERSION)
    if content_type:
        request.add_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise SystemExit(f"signup: {method} {path} answered {error.code}: {error.read()[:300]!r}")


def signup(base, client_id):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    email = f"fuzz-{secrets.token_hex(6)}@example.com"
    body = json.dumps(
        {
            "id": f"fuzz-{secrets.token_hex(8)}",
            "email": email,
            "scopes": SIGNUP_SCOPES + EXTRA_SCOPES,
            "client_id": client_id,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "configuration": {"region": "US"},
        }
    ).encode()
    _, answer = call(base, "POST", "/api/agentic/provisioning/account_requests", body, "application/json")
    if answer.get("type") != "oauth":
        raise SystemExit(f"signup: account request answered type {answer.get('type')!r}")
    form = urllib.parse.urlencode(
        {"grant_type": "authorization_code", "code": answer["oauth"]["code"], "code_verifier": verifier}
    ).encode()
    _, token = call(base, "POST", "/api/agentic/oauth/token", form, "application/x-www-form-urlencoded")
    _, resource = call(
        base,
        "POST",
        "/api/agentic/provisioning/resources",
        b"{}",
        "application/json",
        {"Authorization": f"Bearer {token['access_token']}"},
    )
    scope = token.get("scope", "").split()
    missing = [s for s in SIGNUP_SCOPES + EXTRA_SCOPES if s not in scope]
    if missing:
        raise SystemExit(f"signup: the token lacks {missing}")
    access = resource["complete"]["access_configuration"]
    return {
        "email": email,
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "personal_api_key": access["personal_api_key"],
        "team_id": int(resource["id"]),
    }


def spend_the_throttled_partners_allowance(base):
    """The throttled hmac partner may make one account request an hour:
    make it now, so every generated one is over the limit (429)."""
    body = json.dumps(
        {"id": f"fuzz-{secrets.token_hex(8)}", "email": f"fuzz-{secrets.token_hex(6)}@example.com"}
    ).encode()
    timestamp = int(time.time())
    mac = hmac.new(THROTTLED_HMAC_SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    call(
        base,
        "POST",
        "/api/agentic/provisioning/account_requests",
        body,
        "application/json",
        {"Stripe-Signature": f"t={timestamp},v1={mac}"},
    )


def main():
    base, output = sys.argv[1].rstrip("/"), sys.argv[2]
    spend_the_throttled_partners_allowance(base)
    credentials = {"live": signup(base, "posthog-wizard"), "throttled": signup(base, "fuzz-throttled-pkce")}
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(credentials, out)
    live = credentials["live"]
    print(f"signup: {live['email']} team {live['team_id']}: pha_*** and phx_*** ready (plus a throttled pair)")


if __name__ == "__main__":
    main()
