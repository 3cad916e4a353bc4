"""MCP servers (the ``mcp`` package, version 2): a server middleware (``pip install mandate[mcp]``).

::

    from mcp.server.mcpserver import MCPServer
    from mandate.integrations import ToolGate
    from mandate.integrations.mcp import MandateMiddleware

    gate = ToolGate(engine,
                    principal=principal_from_token,   # e.g. from the OAuth access token
                    action='Platform::Action::"InvokeTool"',
                    resource_type="Platform::Tool")
    server = MCPServer("tools", middleware=[MandateMiddleware(gate)])

The middleware gates ``tools/call`` (a denied call returns ``CallToolResult(is_error=True)``
with the denial message, and the tool never runs) and filters ``tools/list`` down to the tools the
caller may use. ``ToolCall.source`` is the ``ServerRequestContext``; ``ToolCall.meta`` is the
request's ``_meta``, which the client asserts: use it for identity in tests only. In production
read the identity from the access token
(``mcp.server.auth.middleware.auth_context.get_access_token()``).

Fail closed: any exception while deciding answers with an error result; a failure while filtering
``tools/list`` lists no tools.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping, Optional

from ._core import ToolGate, Verdict

__all__ = ["MandateMiddleware", "check"]


def _params(ctx: Any) -> Mapping[str, Any]:
    params = getattr(ctx, "params", None)
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return params
    if hasattr(params, "model_dump"):
        dumped: Mapping[str, Any] = params.model_dump(by_alias=True)
        return dumped
    return {}


def check(gate: ToolGate, ctx: Any) -> Verdict:
    """The verdict for one ``tools/call`` context (never raises)."""
    try:
        params = _params(ctx)
        meta = params.get("_meta") or {}
        return gate.check_tool(
            params.get("name") or "<unknown>",
            params.get("arguments"),
            call_id=str(getattr(ctx, "request_id", "") or "") or None,
            source=ctx,
            meta=meta if isinstance(meta, Mapping) else {},
        )
    except Exception as e:  # fail closed
        return Verdict(False, message="Tool call denied: the policy check failed.", error=e)


def _error_result(message: str) -> Any:
    from mcp.types import CallToolResult, TextContent

    return CallToolResult(is_error=True, content=[TextContent(type="text", text=message)])


class MandateMiddleware:
    """``ServerMiddleware`` deciding every ``tools/call`` and filtering ``tools/list``."""

    def __init__(self, gate: ToolGate, *, filter_list: bool = True) -> None:
        self.gate = gate
        self.filter_list = filter_list

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        method = getattr(ctx, "method", None)
        if method == "tools/call":
            verdict = check(self.gate, ctx)
            if verdict.allowed is not True:
                return _error_result(verdict.message or "Tool call denied by policy.")
            return await call_next(ctx)
        if method == "tools/list" and self.filter_list:
            result = await call_next(ctx)
            return self._filter(ctx, result)
        return await call_next(ctx)

    def _filter(self, ctx: Any, result: Any) -> Any:
        meta: Optional[Mapping[str, Any]] = None
        try:
            raw_meta = _params(ctx).get("_meta")
            meta = raw_meta if isinstance(raw_meta, Mapping) else None
        except Exception:
            meta = None
        try:
            tools = result["tools"] if isinstance(result, Mapping) else result.tools
            names = [t["name"] if isinstance(t, Mapping) else t.name for t in tools]
            allowed = set(self.gate.allowed_tools(names, source=ctx, meta=meta))
            kept = [t for t, n in zip(tools, names) if n in allowed]
        except Exception:  # fail closed: list nothing
            kept = []
        if isinstance(result, Mapping):
            out = dict(result)
            out["tools"] = kept
            return out
        try:
            return result.model_copy(update={"tools": kept})
        except Exception:
            result.tools = kept
            return result
