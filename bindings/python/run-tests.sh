#!/usr/bin/env bash
# Builds the Python package (bindings/python) into a virtual environment and runs its tests.
#
#   bindings/python/run-tests.sh [pytest args...]
#
# Creates bindings/python/.venv when missing (or broken), installs maturin, pytest and mypy into
# it from the package registry, builds the extension with `maturin develop --release` and runs
# `pytest bindings/python/tests`. Honours CARGO_TARGET_DIR.
#
# The framework guards are tested end to end against the real frameworks, so the venv also gets
# MCP, LangChain, the OpenAI Agents SDK and cedarpy (for the agreement test and the benchmark),
# at the versions pinned below (about 30 s the first time). CrewAI is a ~1 GB install: its test
# runs only when MANDATE_PY_CREWAI=1 (it installs crewai) or crewai is already installed.
# MANDATE_PY_FRAMEWORKS=0 skips the framework installs (their tests then say they skip).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=$HERE/.venv
PYTHON=${PYTHON:-python3}

if ! "$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 9)' >/dev/null 2>&1; then
  echo "creating $VENV"
  "$PYTHON" -m venv --clear "$VENV"
fi
PY=$VENV/bin/python
"$PY" -m pip install --quiet --disable-pip-version-check \
  'maturin>=1.16,<2' 'pytest>=8' 'mypy>=1.10'
if [ "${MANDATE_PY_FRAMEWORKS:-1}" != 0 ]; then
  echo "installing the frameworks the guards are tested against"
  "$PY" -m pip install --quiet --disable-pip-version-check \
    'mcp==2.3.0' 'langchain==1.5.2' 'langchain-core==1.8.3' 'openai-agents==0.24.0' \
    'cedarpy==4.12.2'
fi
if [ "${MANDATE_PY_CREWAI:-0}" = 1 ]; then
  "$PY" -m pip install --quiet --disable-pip-version-check 'crewai==1.15.30'
fi

# maturin installs into the active virtual environment.
export VIRTUAL_ENV=$VENV
export PATH="$VENV/bin:$PATH"
cd "$HERE"
echo "building the extension (maturin develop --release)"
start=$(date +%s)
"$PY" -m maturin develop --release --locked
"$PY" -c 'import mandate, sys; print("mandate", mandate.__version__, "on Python", sys.version.split()[0])'
echo "built in $(( $(date +%s) - start ))s"

echo "checking the stubs against the built module (mypy.stubtest)"
"$PY" -m mypy.stubtest mandate._native

cd "$ROOT"
exec "$PY" -m pytest -q bindings/python/tests "$@"
