"""A guarded MCP server over the example agent platform (`policies/agent-platform/`).

Every `tools/call` passes through Mandate before the tool body runs, and `tools/list` shows an
agent only the tools it may call. The identity is the trusted configuration of the process: a
host starts one stdio server per agent with `MANDATE_AGENT` set (an HTTP deployment would read
the OAuth access token instead, see docs/python.md).

    # in-process demo, no network, no model:
    bindings/python/.venv/bin/python bindings/python/examples/mcp_server.py --demo
    # a stdio MCP server for an MCP host, acting as agent `triage-bot`:
    MANDATE_AGENT=triage-bot bindings/python/.venv/bin/python bindings/python/examples/mcp_server.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

from mcp import Client
from mcp.server.mcpserver import MCPServer

import mandate
from mandate.integrations import ToolCall, ToolGate
from mandate.integrations.mcp import MandateMiddleware

PLATFORM = Path(__file__).resolve().parents[3] / "policies" / "agent-platform"


def context(call: ToolCall) -> Dict[str, Any]:
    """The request context the policies read: environment, cost, approval and time."""
    return {
        "env": os.environ.get("MANDATE_ENV", "prod"),
        "cost_cents": int(call.arguments.get("amount", 0)) * 100,
        "approved": False,
        "now": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def build_server(engine: mandate.Engine, agent: str, ran: List[str]) -> MCPServer:
    gate = ToolGate(
        engine,
        principal=("Platform::Agent", agent),
        action='Platform::Action::"InvokeTool"',
        resource_type="Platform::Tool",
        context=context,
    )
    server = MCPServer("agent-platform-tools", middleware=[MandateMiddleware(gate)])

    @server.tool(name="ticket-search")
    def ticket_search(query: str) -> str:
        """Search the ticket system."""
        ran.append("ticket-search")
        return f"3 tickets match {query!r}"

    @server.tool(name="refund-issuer")
    def refund_issuer(amount: int) -> str:
        """Issue a refund to a customer."""
        ran.append("refund-issuer")
        return f"refunded {amount}"

    return server


def engine() -> mandate.Engine:
    return mandate.Engine.from_dir(
        PLATFORM / "policies",
        schema=PLATFORM / "schema.cedarschema",
        entities=PLATFORM / "entities.json",
    )


async def demo() -> List[str]:
    ran: List[str] = []
    server = build_server(engine(), "triage-bot", ran)
    async with Client(server) as client:
        listed = await client.list_tools()
        print("tools/list for triage-bot:", [t.name for t in listed.tools])
        for name, args in [("ticket-search", {"query": "login"}), ("refund-issuer", {"amount": 5})]:
            result = await client.call_tool(name, args)
            verdict = "ERROR" if result.is_error else "ok"
            print(f"tools/call {name}: {verdict}: {result.content[0].text}")
    print("tool bodies that ran:", ran)
    return ran


def main(argv: List[str]) -> int:
    if "--demo" in argv:
        ran = asyncio.run(demo())
        return 0 if ran == ["ticket-search"] else 1
    agent = os.environ.get("MANDATE_AGENT")
    if not agent:
        print("set MANDATE_AGENT to the agent this server acts for (or pass --demo)", file=sys.stderr)
        return 2
    build_server(engine(), agent, []).run("stdio")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
