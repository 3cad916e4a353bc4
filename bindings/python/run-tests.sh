#!/usr/bin/env bash
# Builds the Python package (bindings/python) into a virtual environment and runs its tests.
#
#   bindings/python/run-tests.sh [pytest args...]
#
# Creates bindings/python/.venv when missing (or broken), installs maturin, pytest and mypy into
# it from the package registry, builds the extension with `maturin develop --release` and runs
# `pytest bindings/python/tests`. Honours CARGO_TARGET_DIR. Framework tests (MCP, LangChain,
# OpenAI Agents SDK, CrewAI) run only when the framework is installed in the venv, e.g.
#   bindings/python/.venv/bin/python -m pip install 'mcp==2.3.0' 'langchain==1.5.0'
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

# maturin installs into the active virtual environment.
export VIRTUAL_ENV=$VENV
export PATH="$VENV/bin:$PATH"
cd "$HERE"
echo "building the extension (maturin develop --release)"
start=$(date +%s)
"$PY" -m maturin develop --release --locked
"$PY" -c 'import mandate, sys; print("mandate", mandate.__version__, "on Python", sys.version.split()[0])'
echo "built in $(( $(date +%s) - start ))s"

cd "$ROOT"
exec "$PY" -m pytest -q bindings/python/tests "$@"
