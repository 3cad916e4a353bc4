"""CrewAI: the pre-tool-call hook raises HookAborted for a denial and for any failure. Runs only
when ``crewai`` is installed (``pip install mandate[crewai]``; about 1 GB, so not in CI)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import mandate
from conftest import CTX, INVOKE

hooks = pytest.importorskip("crewai.hooks")

from mandate.integrations import ToolGate  # noqa: E402
from mandate.integrations.crewai import pre_tool_call_hook  # noqa: E402


def test_hook_denies_and_fails_closed(engine: mandate.Engine) -> None:
    gate = ToolGate(engine, principal=lambda call: ("Platform::Agent", call.source.agent.role),
                    action=INVOKE, resource_type="Platform::Tool", context=CTX)
    hook = pre_tool_call_hook(gate)
    ctx = SimpleNamespace(tool_name="ticket-search", tool_input={"q": "x"},
                          agent=SimpleNamespace(role="triage-bot"))
    hook(ctx)  # allowed: returns normally
    with pytest.raises(hooks.HookAborted):
        hook(SimpleNamespace(tool_name="refund-issuer", tool_input={}, agent=SimpleNamespace(role="triage-bot")))
    with pytest.raises(hooks.HookAborted):
        hook(SimpleNamespace(tool_name="ticket-search", tool_input={}))  # no agent: fails closed
