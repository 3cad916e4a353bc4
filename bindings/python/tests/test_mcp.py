"""MCP (``mcp`` >= 2): an in-process client calls allowed and denied tools through a server with
the Mandate middleware; a denied tool's body never runs, and tools/list is filtered."""

from __future__ import annotations

import asyncio
from typing import Any, List

import pytest

import mandate
from conftest import CTX, INVOKE

pytest.importorskip("mcp.server.mcpserver")

from mcp import Client  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402

from mandate.integrations import ToolGate  # noqa: E402
from mandate.integrations.mcp import MandateMiddleware  # noqa: E402


def _server(engine: mandate.Engine, ran: List[str]) -> Any:
    # Tests only: the identity comes from the client-asserted _meta. Production reads the access
    # token.
    gate = ToolGate(
        engine,
        principal=lambda call: ("Platform::Agent", call.meta["agent"]),
        action=INVOKE,
        resource_type="Platform::Tool",
        context=CTX,
    )
    server = MCPServer("guarded", middleware=[MandateMiddleware(gate)])

    @server.tool(name="ticket-search")
    def ticket_search(query: str) -> str:
        ran.append("ticket-search")
        return f"3 tickets for {query}"

    @server.tool(name="refund-issuer")
    def refund_issuer(amount: int) -> str:
        ran.append("refund-issuer")
        return "refunded"

    return server


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_mcp_gate_calls_and_lists(engine: mandate.Engine, mode: str) -> None:
    ran: List[str] = []
    server = _server(engine, ran)

    async def scenario() -> None:
        async with Client(server, mode=mode) as client:
            meta = {"agent": "triage-bot"}
            ok = await client.call_tool("ticket-search", {"query": "login"}, meta=meta)
            assert not ok.is_error, ok
            assert "3 tickets" in ok.content[0].text
            denied = await client.call_tool("refund-issuer", {"amount": 5}, meta=meta)
            assert denied.is_error
            assert "denied by policy" in denied.content[0].text
            # Without an identity the gate fails closed.
            anon = await client.call_tool("ticket-search", {"query": "x"})
            assert anon.is_error
            tools = await client.list_tools(meta=meta) if _lists_take_meta() else await client.list_tools()
            names = [t.name for t in tools.tools]
            if _lists_take_meta():
                assert names == ["ticket-search"]
            else:
                assert names == []  # no identity: nothing listed (fail closed)

    try:
        asyncio.run(scenario())
    except TypeError as e:  # pragma: no cover - older client without `mode`
        if "mode" in str(e):
            pytest.skip("this mcp client has no `mode`")
        raise
    assert ran == ["ticket-search"]


def _lists_take_meta() -> bool:
    import inspect

    return "meta" in inspect.signature(Client.list_tools).parameters
