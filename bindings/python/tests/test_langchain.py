"""LangChain: a scripted agent (no model, no network) whose denied tool never runs; and the plain
tool wrapper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List

import pytest

import mandate
from conftest import CTX, INVOKE

pytest.importorskip("langchain.agents")

from langchain.agents import create_agent  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

from mandate.integrations import ToolGate  # noqa: E402
from mandate.integrations.langchain import guard_tool, tool_call_middleware  # noqa: E402


@dataclass
class RunContext:
    agent_id: str


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def _tools(ran: List[str]) -> List[Any]:
    @tool("ticket-search")
    def ticket_search(query: str) -> str:
        """Search tickets."""
        ran.append("ticket-search")
        return "3 tickets"

    @tool("refund-issuer")
    def refund_issuer(amount: int) -> str:
        """Issue a refund."""
        ran.append("refund-issuer")
        return "refunded"

    return [ticket_search, refund_issuer]


def test_scripted_agent_with_the_middleware(engine: mandate.Engine) -> None:
    ran: List[str] = []
    gate = ToolGate(engine, principal=lambda call: ("Platform::Agent", call.source.agent_id),
                    action=INVOKE, resource_type="Platform::Tool", context=CTX)
    model = ScriptedModel(messages=iter([
        AIMessage(content="", tool_calls=[
            {"name": "ticket-search", "args": {"query": "login"}, "id": "c1"},
            {"name": "refund-issuer", "args": {"amount": 5}, "id": "c2"},
        ]),
        AIMessage(content="done"),
    ]))
    agent = create_agent(model, _tools(ran), middleware=[tool_call_middleware(gate)],
                         context_schema=RunContext)
    result = agent.invoke({"messages": [{"role": "user", "content": "help"}]},
                          context=RunContext(agent_id="triage-bot"))
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    by_id = {m.tool_call_id: m for m in tool_messages}
    assert by_id["c1"].status != "error" and "3 tickets" in str(by_id["c1"].content)
    assert by_id["c2"].status == "error" and "denied by policy" in str(by_id["c2"].content)
    assert ran == ["ticket-search"]


def test_guard_tool_wrapper(engine: mandate.Engine) -> None:
    ran: List[str] = []
    gate = ToolGate(engine,
                    principal=lambda call: ("Platform::Agent", call.source["metadata"]["agent_id"]),
                    action=INVOKE, resource_type="Platform::Tool", context=CTX)
    search, refund = (guard_tool(t, gate) for t in _tools(ran))
    config = {"metadata": {"agent_id": "triage-bot"}}
    assert search.invoke({"query": "x"}, config=config) == "3 tickets"
    out = refund.invoke({"amount": 1}, config=config)
    assert "denied by policy" in str(out)
    # No identity: fails closed.
    assert "denied" in str(search.invoke({"query": "x"}))
    assert ran == ["ticket-search"]
