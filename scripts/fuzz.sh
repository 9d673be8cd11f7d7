#!/usr/bin/env bash
# Fuzzes every results reader (crates/imagegate-results/fuzz) for a while each, and fails on the
# first crash.
#
#   scripts/fuzz.sh [SECONDS]        run each target for SECONDS (default 20)
#   scripts/fuzz.sh SECONDS TARGET…  run only the named targets
#
# Targets: junit, subunit, tap, gotest, libtest (one per reader, each with its detection) and
# detected (detection and dispatch as a results folder is read: no two formats may claim one
# input). Each starts from the real-world files in crates/imagegate-results/tests/fixtures/ and
# grows its own corpus in crates/imagegate-results/fuzz/corpus/TARGET (kept out of git).
#
# A longer run, before a release or after changing a reader, on all cores:
#
#   scripts/fuzz.sh 1800
#   cd crates/imagegate-results/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run tap -- -max_total_time=3600 -jobs=2
#
# A crash leaves its input in crates/imagegate-results/fuzz/artifacts/TARGET/; replay it with
#
#   cd crates/imagegate-results/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET artifacts/TARGET/crash-…
#
# and turn it into a unit test beside the reader, named after what it broke.
#
# Environment:
#   FUZZ_SANITIZER   cargo-fuzz's sanitizer (default none: the readers are safe Rust, so
#                    AddressSanitizer mostly slows the search; `address` checks the dependencies too)
#
# cargo-fuzz needs unstable compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
# Integer overflow is checked (debug assertions on), as a wrapped length is a bug even where it
# would not crash a release build.
set -euo pipefail

readonly ALL_TARGETS=(junit subunit tap gotest libtest detected)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly FUZZ_DIR="$ROOT/crates/imagegate-results/fuzz"
readonly FIXTURES="$ROOT/crates/imagegate-results/tests/fixtures"
readonly SANITIZER="${FUZZ_SANITIZER:-none}"

seconds="${1:-20}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=("${ALL_TARGETS[@]}")
fi

if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "error: SECONDS must be a positive whole number, not '$seconds'" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# The fixtures each target starts from.
seeds_for() {
    case "$1" in
        junit | subunit | tap | gotest | libtest) echo "$FIXTURES/$1" ;;
        detected) echo "$FIXTURES/junit $FIXTURES/subunit $FIXTURES/tap $FIXTURES/gotest $FIXTURES/libtest" ;;
        *)
            echo "error: unknown target '$1' (targets: ${ALL_TARGETS[*]})" >&2
            exit 2
            ;;
    esac
}

cd "$FUZZ_DIR"
export RUSTC_BOOTSTRAP=1
flags=(--sanitizer "$SANITIZER" --debug-assertions)
cargo fuzz build "${flags[@]}" >&2

for target in "${targets[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus"
    seeds=()
    for directory in $(seeds_for "$target"); do
        if [ -d "$directory" ]; then
            seeds+=("$directory")
        fi
    done
    echo "fuzz: $target for ${seconds}s" >&2
    # The largest fixture sets how long an input may grow; -timeout catches a reader that loops.
    cargo fuzz run "${flags[@]}" "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz: no crash in ${targets[*]}" >&2
