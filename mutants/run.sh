#!/usr/bin/env bash
# `just mutants`: mutation testing of the modules that hold a rule
# (mutants/rules.txt) with cargo-mutants, pinned and installed into
# target/tools. Every mutant that survives must be listed, with its reason,
# in mutants/accepted.txt; any other survivor fails the run (it is a test
# we are missing). Timeouts count as caught (cargo-mutants' own view: the
# mutant made the tests hang), but are reported.
#
#   mutants/run.sh                   every rule module
#   mutants/run.sh --in-diff BASE    only the mutants in lines changed since
#                                    BASE (a commit), as CI runs it
#   mutants/run.sh --file PATH       one module (repeatable), for a quick look
#
# Environment: MUTANTS_JOBS (parallel builds, default 1: the machine has
# two cores), MUTANTS_TIMEOUT (seconds per test run; by default
# cargo-mutants derives it from the unmutated run, so a mutant that loops
# forever costs seconds, not minutes),
# MUTANTS_OUT (where results go, default target/mutants),
# MUTANTS_IN_PLACE=1 (mutate this tree and build in its own target/, warm,
# instead of a fresh copy: for CI's throwaway clone or a worktree kept for
# it; cargo-mutants puts every file back, but an interrupted run may not).
# Results: target/mutants/mutants.out/ (caught.txt, missed.txt, timeout.txt,
# unviable.txt, outcomes.json) and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MUTANTS_VERSION=27.1.0
root=$PWD
tools=$root/target/tools
out=${MUTANTS_OUT:-$root/target/mutants}
jobs=${MUTANTS_JOBS:-1}
timeout=${MUTANTS_TIMEOUT:-}

# 1. What to mutate.
files=()
diff_base=
while [[ $# -gt 0 ]]; do
    case $1 in
        --in-diff) diff_base=${2:?--in-diff needs a commit}; shift 2 ;;
        --file) files+=("${2:?--file needs a path}"); shift 2 ;;
        *) echo "mutants: unknown argument $1 (see the head of mutants/run.sh)" >&2; exit 2 ;;
    esac
done
if [[ ${#files[@]} -eq 0 ]]; then
    while IFS= read -r line; do
        line=${line%%#*}
        line=${line//[[:space:]]/}
        [[ -n $line ]] && files+=("$line")
    done < mutants/rules.txt
fi
for file in "${files[@]}"; do
    [[ -f $file ]] || { echo "mutants: $file (mutants/rules.txt) does not exist" >&2; exit 2; }
done

args=(mutants --no-shuffle --output "$out")
if [[ -n $timeout ]]; then
    args+=(--timeout "$timeout")
fi
if [[ ${MUTANTS_IN_PLACE:-} == 1 ]]; then
    args+=(--in-place)
else
    args+=(--jobs "$jobs")
fi
for file in "${files[@]}"; do
    args+=(--file "$file")
done
if [[ -n $diff_base ]]; then
    mkdir -p "$out"
    git diff "$diff_base" -- "${files[@]}" > "$out/in.diff"
    if [[ ! -s $out/in.diff ]]; then
        echo "mutants: no rule module changed since $diff_base; nothing to mutate"
        exit 0
    fi
    args+=(--in-diff "$out/in.diff")
fi

# 2. cargo-mutants, pinned, installed only once there is something to
# mutate. A failed install fails the run: there is no silent skip.
if [[ "$("$tools/bin/cargo-mutants" mutants --version 2>/dev/null || true)" != *"$CARGO_MUTANTS_VERSION"* ]]; then
    echo "== installing cargo-mutants $CARGO_MUTANTS_VERSION into $tools"
    if ! cargo install --quiet --locked --root "$tools" --version "$CARGO_MUTANTS_VERSION" cargo-mutants; then
        echo "mutants: FAILED to install cargo-mutants $CARGO_MUTANTS_VERSION (is crates.io reachable?)" >&2
        exit 1
    fi
fi
export PATH=$tools/bin:$PATH

# 3. Run. cargo-mutants exits 2 when a mutant survives and 3 on timeouts;
# the accepted list decides, below.
started=$SECONDS
set +e
cargo "${args[@]}"
status=$?
set -e
elapsed=$(( SECONDS - started ))
case $status in
    0 | 2 | 3) ;;
    *) echo "mutants: FAILED (cargo-mutants exit $status; the tree does not build or its tests fail unmutated)" >&2; exit 1 ;;
esac

# 4. Survivors against mutants/accepted.txt. A mutant is named without its
# line and column (`path: description`), so edits elsewhere in a file do
# not stale the list.
results=$out/mutants.out
name() { sed -E 's/^([^:]+):[0-9]+:[0-9]+: /\1: /'; }
count() { if [[ -f $1 ]]; then grep -c . "$1" || true; else echo 0; fi; }
accepted=$(sed -E 's/[[:space:]]+#.*$//; /^[[:space:]]*(#|$)/d' mutants/accepted.txt | sort -u)
missed=$( [[ -f $results/missed.txt ]] && name < "$results/missed.txt" | sort -u || true)
unexplained=$(comm -23 <(printf '%s\n' "$missed" | sed '/^$/d') <(printf '%s\n' "$accepted" | sed '/^$/d'))
still_listed=$(printf '%s\n' "$missed" | sed '/^$/d' | comm -12 - <(printf '%s\n' "$accepted" | sed '/^$/d') | grep -c . || true)

echo "== mutants: $(count "$results/caught.txt") caught, $(count "$results/missed.txt") missed ($still_listed of them accepted), $(count "$results/timeout.txt") timed out, $(count "$results/unviable.txt") unviable; ${elapsed} s"
if [[ -n $unexplained ]]; then
    echo "mutants: FAILED: these mutants survive every test and are not in mutants/accepted.txt:" >&2
    sed 's/^/  /' <<< "$unexplained" >&2
    echo "Add the test that catches each, or accept it with a one-line reason." >&2
    exit 1
fi
echo "mutants: OK"
