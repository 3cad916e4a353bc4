"""A LangChain agent whose tools are guarded by Mandate (`policies/agent-platform/`).

The model is scripted (no network, no API key): it asks for a ticket search and a refund. The
Mandate middleware decides each tool call before the tool runs; the refund is denied by policy,
its body never runs, and the model receives the denial as an error tool message it can read.
The agent's identity comes from the run context the host passes (`context=RunContext(...)`),
never from the model.

    bindings/python/.venv/bin/python bindings/python/examples/langchain_agent.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool

import mandate
from mandate.integrations import ToolGate
from mandate.integrations.langchain import tool_call_middleware

PLATFORM = Path(__file__).resolve().parents[3] / "policies" / "agent-platform"


@dataclass
class RunContext:
    """What the host knows about the run: which agent is acting."""

    agent_id: str


class ScriptedModel(GenericFakeChatModel):
    """Replays fixed messages; binding tools changes nothing."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def main() -> int:
    ran: List[str] = []

    @tool("ticket-search")
    def ticket_search(query: str) -> str:
        """Search the ticket system."""
        ran.append("ticket-search")
        return f"3 tickets match {query!r}"

    @tool("refund-issuer")
    def refund_issuer(amount: int) -> str:
        """Issue a refund to a customer."""
        ran.append("refund-issuer")
        return f"refunded {amount}"

    engine = mandate.Engine.from_dir(
        PLATFORM / "policies",
        schema=PLATFORM / "schema.cedarschema",
        entities=PLATFORM / "entities.json",
    )
    gate = ToolGate(
        engine,
        principal=lambda call: ("Platform::Agent", call.source.agent_id),
        action='Platform::Action::"InvokeTool"',
        resource_type="Platform::Tool",
        context={"env": "prod", "cost_cents": 500, "approved": False, "now": "2026-11-26T10:00:00Z"},
    )
    model = ScriptedModel(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {"name": "ticket-search", "args": {"query": "login"}, "id": "c1"},
                        {"name": "refund-issuer", "args": {"amount": 5}, "id": "c2"},
                    ],
                ),
                AIMessage(content="I found the tickets; the refund needs a human."),
            ]
        )
    )
    agent = create_agent(
        model,
        [ticket_search, refund_issuer],
        middleware=[tool_call_middleware(gate)],
        context_schema=RunContext,
    )
    result = agent.invoke(
        {"messages": [{"role": "user", "content": "Customer can't log in, refund them $5"}]},
        context=RunContext(agent_id="triage-bot"),
    )
    for message in result["messages"]:
        if isinstance(message, ToolMessage):
            print(f"tool {message.name}: {message.status}: {message.content}")
    print("final answer:", result["messages"][-1].content)
    print("tool bodies that ran:", ran)
    return 0 if ran == ["ticket-search"] else 1


if __name__ == "__main__":
    sys.exit(main())
