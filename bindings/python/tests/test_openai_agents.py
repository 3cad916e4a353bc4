"""OpenAI Agents SDK with its scripted model (no network): a denied tool never runs. Runs only
when ``openai-agents`` is installed (``pip install mandate[openai-agents]``)."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import List

import pytest

import mandate
from conftest import CTX, INVOKE

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
agents = pytest.importorskip("agents")
testing = pytest.importorskip("agents.testing")

from mandate.integrations import ToolGate  # noqa: E402
from mandate.integrations.openai_agents import tool_input_guardrail  # noqa: E402


@dataclass
class RunContext:
    agent_id: str


def test_scripted_run(engine: mandate.Engine) -> None:
    ran: List[str] = []
    gate = ToolGate(engine, principal=lambda call: ("Platform::Agent", call.source.agent_id),
                    action=INVOKE, resource_type="Platform::Tool", context=CTX)
    guard = tool_input_guardrail(gate)

    @agents.function_tool(name_override="ticket-search", tool_input_guardrails=[guard])
    def ticket_search(query: str) -> str:
        ran.append("ticket-search")
        return "3 tickets"

    @agents.function_tool(name_override="refund-issuer", tool_input_guardrails=[guard])
    def refund_issuer(amount: int) -> str:
        ran.append("refund-issuer")
        return "refunded"

    model = testing.ScriptedModel([
        [testing.function_call("ticket-search", json.dumps({"query": "x"}), call_id="c1"),
         testing.function_call("refund-issuer", json.dumps({"amount": 5}), call_id="c2")],
        [testing.assistant_message("done")],
    ])
    agent = agents.Agent(name="a", model=model, tools=[ticket_search, refund_issuer])
    asyncio.run(agents.Runner.run(agent, "go", context=RunContext(agent_id="triage-bot")))
    assert ran == ["ticket-search"]
