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

step "example policies: check, fmt --check, lint, test, authorize"
./target/release/mandate check --schema policies/agent-platform/schema.cedarschema policies/
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

step "all suites passed"
