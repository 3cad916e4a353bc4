#!/usr/bin/env bash
# Smoke-fuzz every cargo-fuzz target on the stable toolchain (no sanitizer: `-s none`).
#
#   fuzz/smoke.sh                  # every target, 60 s each
#   FUZZ_SECONDS=300 fuzz/smoke.sh parse_no_panic
#   FUZZ_SECONDS=0 fuzz/smoke.sh   # replay the corpora only (no new inputs), as on every PR
#   FUZZ_SEED=1 FUZZ_RUNS=40000 fuzz/smoke.sh   # reproducible: fixed seed and run count
#
# The test command runs each target with a fixed seed and run count (time is only a safety cap),
# so that one commit fuzzes the same inputs on every machine: a CI failure reproduces locally.
#
# Seeds: for the policy-text targets, every *.cedar / *.mandate file of
# crates/mandate-syntax/test_data, policies/ and, when present, the Cedar conformance suite
# (${MANDATE_SHARED:-../shared}/conformance/cedar); for the others, inputs that make_seeds.py
# builds from the same places (schemas, entities, requests; audit logs the target writes itself).
# A crash leaves its input in fuzz/artifacts/<target>/; turn it into a regression test in the
# owning crate before fixing it. Exits non-zero when any target fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
shared="${MANDATE_SHARED:-$root/../shared}"
seconds="${FUZZ_SECONDS:-60}"
seed="${FUZZ_SEED:-}"
runs="${FUZZ_RUNS:-}"
logs="$here/logs"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

cd "$root"

# Seed corpora, rebuilt each run; file names keep the origin for readability. The policy-text
# targets share one folder of policy files; the others get inputs built for them by
# make_seeds.py (multi-part inputs joined by NUL bytes, from the Cedar corpus and policies/).
seeds_root="$here/corpus/_seeds"
rm -rf "$seeds_root"
policy_seeds="$seeds_root/policies"
mkdir -p "$policy_seeds"
n_seeds=0
for dir in "$root/crates/mandate-syntax/test_data" "$root/policies" "$shared/conformance/cedar"; do
    [ -d "$dir" ] || { echo "seed folder $dir not found; skipping it" >&2; continue; }
    while IFS= read -r -d '' f; do
        rel="${f#"$dir"/}"
        cp "$f" "$policy_seeds/$(basename "$dir")__${rel//\//__}"
        n_seeds=$((n_seeds + 1))
    done < <(find "$dir" -type f \( -name '*.cedar' -o -name '*.mandate' \) -print0)
done
echo "seeded $n_seeds policy files into $policy_seeds" >&2

# The seed folder of target $1.
seeds_for() {
    case "$1" in
        parse_no_panic | fmt_roundtrip | cedar_superset) echo "$policy_seeds" ;;
        *)
            python3 "$here/make_seeds.py" "$1" "$seeds_root/$1" "$root" "$shared" >&2
            echo "$seeds_root/$1"
            ;;
    esac
}

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

mkdir -p "$logs"
failed=()
for t in "${targets[@]}"; do
    corpus="$here/corpus/$t"
    mkdir -p "$corpus"
    if [ "$seconds" = "0" ]; then
        limit=(-runs=0)
    else
        limit=(-max_total_time="$seconds")
        [ -n "$runs" ] && limit+=(-runs="$runs")
    fi
    [ -n "$seed" ] && limit+=(-seed="$seed")
    echo "== $t (${seconds}s${runs:+, $runs runs}${seed:+, seed $seed}); log in fuzz/logs/$t.log" >&2
    rm -rf "${here:?}/artifacts/$t"
    status=0
    # Committed inputs that once failed (fuzz/regressions/<target>/) are replayed on every run.
    regressions=()
    [ -d "$here/regressions/$t" ] && regressions=("$here/regressions/$t")
    seeds="$(seeds_for "$t")"
    cargo fuzz run "$t" -s none "$corpus" "$seeds" "${regressions[@]}" -- \
        "${limit[@]}" -dict="$here/mandate.dict" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 >"$logs/$t.log" 2>&1 || status=$?
    grep -E '^(Done|stat::|INFO: seed corpus)' "$logs/$t.log" >&2 || true
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "-- $t exited with status $status" >&2
    fi
done

# A summary at the very end, so that the tail of a CI log names the failure and its input.
if [ "${#failed[@]}" -gt 0 ]; then
    for t in "${failed[@]}"; do
        echo "==== $t failed; the end of fuzz/logs/$t.log:" >&2
        grep -v -E '^(#[0-9]+|\s+NEW_FUNC|".*# Uses:)' "$logs/$t.log" | tail -n 40 >&2 || true
        for a in "$here/artifacts/$t"/*; do
            [ -f "$a" ] || continue
            echo "---- input $a ($(wc -c <"$a") bytes), escaped:" >&2
            if command -v python3 >/dev/null; then
                python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read(3000)))' "$a" >&2
            else
                head -c 3000 "$a" | od -An -c | head -n 60 >&2
            fi
        done
    done
    echo "FAILED: ${failed[*]} (inputs in $here/artifacts/, logs in $here/logs/)" >&2
    exit 1
fi
echo "all targets passed: ${targets[*]}" >&2
