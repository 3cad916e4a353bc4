#!/usr/bin/env bash
# Smoke-fuzz every cargo-fuzz target on the stable toolchain (no sanitizer: `-s none`).
#
#   fuzz/smoke.sh                  # every target, 60 s each
#   FUZZ_SECONDS=300 fuzz/smoke.sh parse_no_panic
#   FUZZ_SECONDS=0 fuzz/smoke.sh   # replay the corpora only (no new inputs), as on every PR
#
# Seeds: every *.cedar / *.mandate file of crates/mandate-syntax/test_data, policies/ and, when
# present, the Cedar conformance suite (${MANDATE_SHARED:-../shared}/conformance/cedar).
# A crash leaves its input in fuzz/artifacts/<target>/; turn it into a test_data/{ok,err} case
# before fixing it. Exits non-zero when any target fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
shared="${MANDATE_SHARED:-$root/../shared}"
seconds="${FUZZ_SECONDS:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

cd "$root"

# Seed corpus, rebuilt each run; file names keep the origin for readability.
seeds="$here/corpus/_seeds"
rm -rf "$seeds"
mkdir -p "$seeds"
n_seeds=0
for dir in "$root/crates/mandate-syntax/test_data" "$root/policies" "$shared/conformance/cedar"; do
    [ -d "$dir" ] || { echo "seed folder $dir not found; skipping it" >&2; continue; }
    while IFS= read -r -d '' f; do
        rel="${f#"$dir"/}"
        cp "$f" "$seeds/$(basename "$dir")__${rel//\//__}"
        n_seeds=$((n_seeds + 1))
    done < <(find "$dir" -type f \( -name '*.cedar' -o -name '*.mandate' \) -print0)
done
echo "seeded $n_seeds files into $seeds" >&2

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

failed=()
for t in "${targets[@]}"; do
    corpus="$here/corpus/$t"
    mkdir -p "$corpus"
    if [ "$seconds" = "0" ]; then
        limit=(-runs=0)
    else
        limit=(-max_total_time="$seconds")
    fi
    echo "== $t (${seconds}s)" >&2
    if ! cargo fuzz run "$t" -s none "$corpus" "$seeds" -- \
        "${limit[@]}" -dict="$here/mandate.dict" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs in $here/artifacts/)" >&2
    exit 1
fi
echo "all targets passed: ${targets[*]}" >&2
