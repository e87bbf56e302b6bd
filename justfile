# The simulator's recipes. `just` alone lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Before asking for review: every scenario, the compatibility matrix and the
# conformance suite, the three real programs against each other. Reports in target/e2e/ (report.md,
# report.xml, report.json). CI may add `--shard K/N`.
e2e *ARGS:
    cargo build --locked --workspace --bins
    cargo run --locked -q -p e2e -- run {{ARGS}}

# The conformance suite (fixtures/conformance/): behaviours of PostHog's own
# tests against our server, scored per era and area (target/e2e/conformance.md).
conformance *ARGS:
    cargo build --locked -p provisioning-server -p llm-gateway-mock
    cargo run --locked -q -p e2e -- conformance --no-build {{ARGS}}

# The compatibility matrix alone (client `--scopes` against server profiles).
e2e-matrix *ARGS:
    cargo build --locked --workspace --bins
    cargo run --locked -q -p e2e -- matrix {{ARGS}}

# The published @posthog/wizard, unchanged and headless, against our server and gateway. Installs
# Node 22 and the versions pinned in fixtures/published-wizard/packages.toml under
# target/published-wizard/ when missing (npm; never into the repository), builds our binaries, runs
# every version x server x variant and compares how far each got with
# fixtures/published-wizard/expected.toml, and runs that file's end-to-end cases to the wizard's own
# exit (2.73.0 and 2.77.0 integrating Next.js and a Python app; the refused legacy run leaving the
# project untouched); tables and files in target/e2e/published-wizard/. In CI
# (CI=true) a failed install fails the recipe; locally, without npm, it says NOT RUN.
published-wizard *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    install="cargo run --locked -q -p e2e -- published-wizard --install-only"
    not_run() {
        if [ "${CI:-}" = "true" ]; then
            echo "published-wizard: FAILED: $1" >&2
            exit 1
        fi
        echo "published-wizard: NOT RUN: $1"
        echo "published-wizard: install with: $install"
        exit 0
    }
    command -v npm >/dev/null 2>&1 || not_run "npm is missing (it installs Node 22 and the wizard)"
    $install {{ARGS}} || not_run "installing the pinned packages failed"
    cargo build --locked --workspace --bins
    cargo run --locked -q -p e2e -- published-wizard --no-build {{ARGS}}

# Debian's headless Chromium and its WebDriver (chromium, chromium-driver) for the e2e `chromium`
# steps, installed with apt-get when missing (as root, else through sudo). Without them those
# scenarios are NOT RUN locally; in CI (CI=true) they fail.
chromium:
    #!/usr/bin/env bash
    set -euo pipefail
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        echo "chromium: $(chromium --version 2>/dev/null); $(chromedriver --version)"
        exit 0
    fi
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    $sudo apt-get install -y chromium chromium-driver
    echo "chromium: $(chromium --version 2>/dev/null); $(chromedriver --version)"

# List the e2e scenarios.
e2e-list:
    cargo run --locked -q -p e2e -- list

# Run every test (unit, integration, schema snapshots).
test:
    cargo test --workspace --locked

# The API documentation of every crate (target/doc/); a broken intra-doc link fails.
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Format, lint, test and run the scenarios: what CI runs.
check:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    just doc
    just test
    just chromium
    just e2e
    just published-wizard

# Accept changed snapshots (JSON Schemas, CLI texts), regenerate docs/openapi.json and rewrite the
# expected compatibility matrix (fixtures/matrix/expected.toml), after reviewing them.
bless:
    INSTA_UPDATE=always UPDATE_OPENAPI=1 cargo test --workspace --locked
    cargo build --locked --workspace --bins
    cargo run --locked -q -p e2e -- matrix --bless
    cargo run --locked -q -p e2e -- run --no-matrix --bless-transcripts

# Re-freeze the wire contract baseline (fixtures/contracts/baseline/) from docs/openapi.json and the
# JSON Schemas. Refuses a breaking change unless protocol::CONTRACT_VERSION was bumped first.
freeze-contract:
    UPDATE_OPENAPI=1 cargo test --locked -p provisioning-server --test it openapi
    FREEZE_CONTRACT=1 cargo test --locked -p protocol --test it guard

# The reliability and security suites at full size (RELIABILITY.md): 10,000 cases per parser
# property, 1,000 concurrent signups over HTTP, three SIGKILLs of the real server mid-load,
# 5,000 mutated bodies against the gateway (its fixed hostile cases run at one size). The normal
# `just test` runs the same suites, smaller.
reliability:
    RELIABILITY_FULL=1 cargo test --locked -p protocol --test it properties
    RELIABILITY_FULL=1 cargo test --locked -p e2e --test it properties
    RELIABILITY_FULL=1 cargo test --locked -p provisioning-server --test it reliability -- --nocapture --test-threads=1
    RELIABILITY_FULL=1 cargo test --locked -p llm-gateway-mock --test it hostile -- --nocapture

# Mutation testing (mutants/run.sh) of every module that holds a rule (mutants/rules.txt), with
# cargo-mutants pinned into target/tools: a mutant no test catches fails the run unless
# mutants/accepted.txt lists it with its reason. Long (each mutant rebuilds and tests its package);
# `mutants/run.sh --in-diff <commit>` mutates only changed lines, as CI does, and `--file <path>`
# one module.
mutants *ARGS:
    mutants/run.sh {{ARGS}}

# Schemathesis against the real server's /openapi.json (fuzz/run.sh): at least 1,000 generated cases,
# signed, authenticated and checked against the documented statuses and schemas. Installs the pinned
# schemathesis into target/fuzz/venv. FUZZ_EXAMPLES (per operation, default 100) and FUZZ_SEED tune it.
fuzz:
    fuzz/run.sh

# Start US and EU servers and gateways on the default ports (8010/8011, 3308/3309).
serve:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --locked --workspace --bins
    mkdir -p target/serve
    bin="${CARGO_TARGET_DIR:-target}/debug"
    pids=()
    trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
    "$bin"/provisioning-server --bind 127.0.0.1:8010 --region us --public-url http://localhost:8010 \
        --database-url "sqlite://target/serve/us.db?mode=rwc" --admin-token dev-admin & pids+=($!)
    "$bin"/provisioning-server --bind 127.0.0.1:8011 --region eu --public-url http://localhost:8011 \
        --database-url "sqlite://target/serve/eu.db?mode=rwc" --admin-token dev-admin & pids+=($!)
    "$bin"/llm-gateway-mock --bind 127.0.0.1:3308 --region us \
        --introspection-url http://localhost:8010/oauth/introspect --admin-token dev-admin & pids+=($!)
    "$bin"/llm-gateway-mock --bind 127.0.0.1:3309 --region eu \
        --introspection-url http://localhost:8011/oauth/introspect --admin-token dev-admin & pids+=($!)
    echo "US: server http://localhost:8010, gateway http://localhost:3308/wizard"
    echo "EU: server http://localhost:8011, gateway http://localhost:3309/wizard"
    echo "Try: $bin/wizard --signup --email you@example.com --install-dir fixtures/apps/<next-js|react-vite|django|flask|express> (a copy)"
    echo "Admin live view: open the one-time 'admin live view:' link each server printed above;"
    echo "  a new one: curl -s -X POST -H 'Authorization: Bearer dev-admin' http://localhost:8010/_admin/live/link"
    echo "Ctrl-C stops all four."
    wait

# Side-by-side benchmark (BENCHMARKS.md; the driver is the `bench` crate in
# bench/): our release binaries against the npm oauth2-mock-server on
# loopback. Installs wrk and hyperfine with apt-get when missing and allowed,
# the peer with npm into target/bench/peer (never into the repository);
# whatever cannot be installed is skipped and named in the report.
# Figures in target/bench/report.{md,json}; BENCHMARKS.md keeps the latest.
bench *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=()
    for tool in wrk hyperfine; do command -v "$tool" >/dev/null || missing+=("$tool"); done
    if [ "${#missing[@]}" -gt 0 ]; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            (apt-get update -qq && apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
                || echo "bench: could not install ${missing[*]} with apt-get; the driver skips or replaces them"
        else
            echo "bench: ${missing[*]} missing and apt-get not usable; the driver skips or replaces them"
        fi
    fi
    mkdir -p target/bench/peer
    if command -v npm >/dev/null; then
        [ -f target/bench/peer/node_modules/oauth2-mock-server/package.json ] \
            || npm install --silent --no-audit --no-fund --prefix target/bench/peer oauth2-mock-server \
            || echo "bench: npm could not install oauth2-mock-server; the peer columns stay empty"
    else
        echo "bench: npm missing; the peer columns stay empty"
    fi
    cargo build --locked --release --workspace --bins
    "${CARGO_TARGET_DIR:-target}/release/bench" {{ARGS}}
