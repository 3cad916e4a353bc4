#!/usr/bin/env bash
# Mandate's full test run: the one command CI (.ci/run) and developers use.
# It installs what a fresh machine lacks, then runs every suite: formatting and lints, the Rust
# workspace tests (unit, data-driven, property, conformance), the CLI over Cedar's conformance
# corpus, and the example policies.
#
# Environment: MANDATE_SHARED points at the shared/ folder (default ../shared). Under CI=true a
# missing shared/ folder is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
SHARED=${MANDATE_SHARED:-$ROOT/../shared}
export MANDATE_SHARED=$SHARED

step() { printf '\n==> %s\n' "$*"; }

step "Redis (for the distributed quota store and agent registry tests)"
# Tests that need Redis read REDIS_URL; they skip without it, except under CI=true, where a
# missing Redis is a failure. Here we install Debian's redis-server when it is missing and start a
# private, non-persistent instance on a free port, stopped on exit.
if [ -z "${REDIS_URL:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get install -y redis-server >/dev/null 2>&1 \
        || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y redis-server >/dev/null; } \
        || echo "warning: could not install redis-server"
    fi
  fi
  if command -v redis-server >/dev/null 2>&1; then
    REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    REDIS_DIR=$(mktemp -d)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log"
    trap 'kill "$(cat "$REDIS_DIR/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$REDIS_DIR"' EXIT
    for _ in $(seq 50); do
      redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
    echo "redis-server on $REDIS_URL"
  elif [ "${CI:-}" = "true" ]; then
    echo "error: redis-server is not available; under CI=true the Redis tests cannot be skipped" >&2
    exit 1
  else
    echo "SKIPPED: redis-server not available; Redis tests will skip"
  fi
else
  echo "using REDIS_URL=$REDIS_URL"
fi

step "toolchain"
cargo --version
rustc --version

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy --all-targets -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build (release)"
cargo build --workspace --release --locked

step "Rust tests (workspace)"
# INSTA_UPDATE=no: snapshot mismatches fail instead of writing .snap.new files.
INSTA_UPDATE=no cargo test --workspace --release --locked

step "stack safety in a debug build (R2/R3: the deepest accepted input on a 256 KiB stack)"
# Debug frames are several times larger than release ones; the release run above cannot show
# an overflow that only a debug build (a host's test suite) would hit. --workspace keeps the
# features the workspace unifies (serde_json's preserve_order changes frame sizes).
INSTA_UPDATE=no cargo test --workspace --locked --test stack_safety --test limits --test typecheck \
  --test fmt_roundtrip

step "Python package (bindings/python: maturin build, pytest)"
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y python3-venv >/dev/null 2>&1 || true
fi
bindings/python/run-tests.sh

step "C library (bindings/c: header up to date, static and shared linking, C tests)"
# The binding's Rust tests already ran with the workspace.
MANDATE_C_SKIP_RUST_TESTS=1 bindings/c/run-tests.sh

step "example policies: check, fmt --check, lint, test, authorize"
./target/release/mandate check --schema policies/agent-platform/schema.cedarschema policies/
./target/release/mandate demo >/dev/null
./target/release/mandate fmt --check policies/
# The platform's mandate.toml excludes bad/ (one deliberately flawed file per lint, checked by
# crates/mandate-cli/tests/lint.rs) and tests/ (fixtures of `mandate test`).
./target/release/mandate lint --fail-on warning --schema policies/agent-platform/schema.cedarschema policies/agent-platform
./target/release/mandate test policies/
python3 scripts/check_requests.py ./target/release/mandate policies/agent-platform

step "Cedar conformance corpus through the CLI"
if [ -d "$SHARED/conformance/cedar" ]; then
  python3 "$SHARED/tools/cedar_corpus_check.py" "$SHARED/conformance/cedar" \
    --cmd "$ROOT/target/release/mandate authorize --error-mode cedar" --check-errors --jobs 2
elif [ "${CI:-}" = "true" ]; then
  echo "error: $SHARED/conformance/cedar is missing (set MANDATE_SHARED); under CI=true this is a failure" >&2
  exit 1
else
  echo "SKIPPED: $SHARED/conformance/cedar not found (set MANDATE_SHARED)"
fi

step "fuzzing (every cargo-fuzz target: seed ${MANDATE_FUZZ_SEED:-1}, ${MANDATE_FUZZ_RUNS:-50000} runs, at most ${MANDATE_FUZZ_SECONDS:-90} s each)"
# Seeds come from test_data, policies/ and the Cedar corpus; a crash fails the run, leaves its
# input in fuzz/artifacts/ and prints it at the end. A fixed seed and run count make the inputs
# the same on every machine for one commit (the time is only a cap), so a CI failure reproduces
# locally; longer, random runs are `fuzz/smoke.sh` without them. MANDATE_FUZZ_SECONDS=0 replays
# the corpora only. fuzz/smoke.sh installs cargo-fuzz when it is missing.
FUZZ_SECONDS="${MANDATE_FUZZ_SECONDS:-90}" FUZZ_SEED="${MANDATE_FUZZ_SEED:-1}" \
  FUZZ_RUNS="${MANDATE_FUZZ_RUNS:-50000}" fuzz/smoke.sh

step "all suites passed"
