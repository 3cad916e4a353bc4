"""The examples in bindings/python/examples run offline and keep denied tools from running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_mcp_server_example() -> None:
    pytest.importorskip("mcp.server.mcpserver")
    out = _run("mcp_server.py", "--demo")
    assert "tools/list for triage-bot: ['ticket-search']" in out
    assert "tools/call refund-issuer: ERROR" in out and "denied by policy" in out
    assert "tool bodies that ran: ['ticket-search']" in out


def test_mcp_server_example_needs_an_identity() -> None:
    pytest.importorskip("mcp.server.mcpserver")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "mcp_server.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert "MANDATE_AGENT" in proc.stderr


def test_langchain_agent_example() -> None:
    pytest.importorskip("langchain.agents")
    out = _run("langchain_agent.py")
    assert "tool refund-issuer: error:" in out and "denied by policy" in out
    assert "tool bodies that ran: ['ticket-search']" in out
