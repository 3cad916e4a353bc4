"""The type stubs: a user file type-checks under ``mypy --strict`` (skipped without mypy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = '''
import mandate
from mandate.integrations import ToolGate

engine = mandate.Engine.from_strings("permit(principal, action, resource);")
limited = mandate.Engine.from_strings("permit(principal, action, resource);", limits={"max_entities": 10})
d: mandate.Decision = engine.authorize(("User", "a"), 'Action::"go"', mandate.Entity("R", "r"), {"n": 1})
allowed: bool = d.allowed
reasons: list[str] = d.reasons
layer: str = d.layer
version: str = engine.policy_version
many: list[mandate.Decision] = engine.authorize_many([("U", "a"), ("A", "b"), ("R", "c")])
diags = mandate.check(["policies"])
code: str = diags[0]["code"] if diags else ""
agent = engine.agents.get(("Agent", "x"))
gate = ToolGate(engine, principal=("User", "a"))

@mandate.guard(engine, principal=("User", "a"), resource_from=lambda x: ("R", x))
def f(x: str) -> int:
    return len(x)

n: int = f("a")
try:
    mandate.Engine.from_dir("nope")
except mandate.PolicyError as e:
    first = e.diagnostics[0]
'''


def test_mypy_strict_on_a_user_file(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    sample = tmp_path / "user.py"
    sample.write_text(SAMPLE)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(sample)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_the_package_itself() -> None:
    """The package's own Python code (guards, integrations) passes ``mypy --strict``, whether or
    not the frameworks are installed. The frameworks' own modules are not followed (their types
    count as ``Any``): following them costs about 40 s of CPU. The full check, on demand:
    ``mypy --strict bindings/python/python/mandate`` in the test venv (clean on 2026-11-26)."""
    pytest.importorskip("mypy")
    package = Path(__file__).resolve().parents[1] / "python" / "mandate"
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=skip",
         "--ignore-missing-imports",
         str(package)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
