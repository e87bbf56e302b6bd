"""Schemathesis hooks for `just fuzz` (fuzz/run.sh).

Generated cases are sent as a real caller would send them, so they get past
authentication and reach the handlers:

- `API-Version: 0.1d` on every /api/agentic/ request;
- a `Stripe-Signature` on health, services, account requests and the
  agentic token endpoint, computed over the exact bytes that go on the wire:
  the body is serialized here and handed to schemathesis as bytes;
- `Authorization: Bearer <pha_>` (or the signup's `phx_` on the PostHog API
  subset) on bearer endpoints, and HTTP Basic as the gateway on
  /oauth/introspect.

A share of cases is steered towards answers random data never reaches: the
signup's team id in read-only paths, live credentials in introspection, and
the throttled partners of fuzz/seed.toml (documented 429s), and bodies over
64 KiB (documented 413s). Credentials come
from the file named by FUZZ_CREDENTIALS (written by fuzz/signup.py).
"""

import base64
import hashlib
import hmac
import json
import os
import random
import time
import urllib.parse
from collections.abc import Mapping

import schemathesis
from schemathesis.transport.serialization import Binary

API_VERSION = "0.1d"
# fixtures/seeds/orchestrator.toml, partner stripe-test (its newer secret).
STRIPE_SECRET = b"whsec_test_new_fake"
# fuzz/seed.toml, partner fuzz-throttled-hmac (no account request allowed).
THROTTLED_HMAC_SECRET = b"whsec_fuzz_throttled_fake"
# fixtures/seeds/default.toml, resource server llm-gateway.
GATEWAY_BASIC = "Basic " + base64.b64encode(b"llm-gateway:llm-gateway-dev-secret").decode()

SIGNED = {
    "/api/agentic/provisioning/health",
    "/api/agentic/provisioning/services",
    "/api/agentic/provisioning/account_requests",
    "/api/agentic/oauth/token",
}
POSTHOG_SUBSET = ("/api/users/", "/api/projects/", "/api/environments/")
# Bytes added to make a body larger than the server's 64 KiB limit.
OVERSIZE = 65 * 1024
# GET endpoints whose `{id}` is sometimes the signup's own team.
TEAM_PATHS = {
    "/api/agentic/provisioning/resources/{id}",
    "/api/projects/{id}",
    "/api/environments/{id}/health_issues",
}

with open(os.environ["FUZZ_CREDENTIALS"]) as _file:
    _CREDENTIALS = json.load(_file)
LIVE = _CREDENTIALS["live"]
THROTTLED = _CREDENTIALS["throttled"]

# Deterministic for a given order of cases (FUZZ_SEED, like --seed).
_rng = random.Random(int(os.environ.get("FUZZ_SEED", "0")))


def _one_in(n):
    return _rng.randrange(n) == 0


def _form_bytes(value):
    """application/x-www-form-urlencoded bytes, as requests would build them."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, Mapping):
        pairs = []
        for key, values in value.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                values = [values]
            for item in values:
                if item is None:
                    continue
                if isinstance(item, bool):
                    item = "true" if item else "false"
                pairs.append((str(key), item if isinstance(item, (str, bytes)) else str(item)))
        return urllib.parse.urlencode(pairs).encode("ascii")
    # Out-of-spec bodies (negative mode): JSON text, as schemathesis ships them.
    return json.dumps(value).encode("utf-8")


def _json_bytes(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, Binary):
        # Raw bytes are not JSON; schemathesis sends their string form.
        return json.dumps(str(value)).encode("utf-8")
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _body_bytes(case):
    """Serializes the body here; returns the bytes that will be sent, or b""."""
    body = case.body
    if type(body).__name__ == "NotSet":
        return b""
    media = (case.media_type or "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        data = _form_bytes(body)
    elif media.endswith("json"):
        data = _json_bytes(body)
    else:
        return body if isinstance(body, bytes) else str(body).encode("utf-8")
    if _one_in(25):
        # Over the contract's 64 KiB limit, still well-formed: JSON may end
        # in whitespace, a form may carry an unknown field. Documented 413.
        data += b" " * OVERSIZE if media.endswith("json") else b"&fuzz_padding=" + b"x" * OVERSIZE
    case.body = data
    return data


def _sign(secret, data):
    timestamp = int(time.time())
    mac = hmac.new(secret, f"{timestamp}.".encode() + data, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    method = case.method.upper()
    if case.headers is None:
        case.headers = {}
    headers = case.headers

    if path.startswith("/api/agentic/"):
        headers["API-Version"] = API_VERSION

    # Steering towards documented answers random data does not reach.
    if path == "/api/agentic/oauth/token" and isinstance(case.body, Mapping) and _one_in(6):
        # The throttled partner has used its one exchange: 429.
        case.body = {"grant_type": "refresh_token", "refresh_token": THROTTLED["refresh_token"]}
    if path == "/oauth/introspect" and isinstance(case.body, Mapping) and _one_in(3):
        case.body = {**case.body, "token": _rng.choice([LIVE["access_token"], LIVE["personal_api_key"]])}
    if method == "GET" and path in TEAM_PATHS and _one_in(3):
        case.path_parameters = {**(case.path_parameters or {}), "id": str(LIVE["team_id"])}

    data = _body_bytes(case)

    if path in SIGNED:
        secret = STRIPE_SECRET
        if path.endswith("/account_requests") and _one_in(8):
            secret = THROTTLED_HMAC_SECRET
        headers["Stripe-Signature"] = _sign(secret, data if method != "GET" else b"")
    elif path.startswith("/api/agentic/provisioning/"):
        token = LIVE["access_token"]
        if path == "/api/agentic/provisioning/resources" and method == "POST" and _one_in(6):
            token = THROTTLED["access_token"]
        headers["Authorization"] = f"Bearer {token}"
    elif path.startswith(POSTHOG_SUBSET):
        credential = LIVE["personal_api_key"] if _one_in(2) else LIVE["access_token"]
        headers["Authorization"] = f"Bearer {credential}"
    elif path == "/oauth/introspect":
        headers["Authorization"] = GATEWAY_BASIC
