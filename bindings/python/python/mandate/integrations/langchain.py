"""LangChain: a tool-call middleware for ``create_agent`` and a wrapper for plain tools
(``pip install mandate[langchain]``).

Agents (``langchain`` 1.x)::

    from langchain.agents import create_agent
    from mandate.integrations import ToolGate
    from mandate.integrations.langchain import tool_call_middleware

    gate = ToolGate(engine,
                    principal=lambda call: call.source.agent_id,   # runtime context
                    action='Platform::Action::"InvokeTool"',
                    resource_type="Platform::Tool")
    agent = create_agent(model, tools, middleware=[tool_call_middleware(gate)],
                         context_schema=RunContext)
    agent.invoke({"messages": [...]}, context=RunContext(agent_id=("Platform::Agent", "bot")))

``ToolCall.source`` is the agent's runtime context (``request.runtime.context``). A denied call is
answered with ``ToolMessage(status="error")`` carrying the denial; the tool never runs.

Plain tools (``langchain-core``)::

    from mandate.integrations.langchain import guard_tool
    safe = guard_tool(search_tool, gate)
    safe.invoke({"query": "…"}, config={"metadata": {"agent_id": "triage-bot"}})

``ToolCall.source`` is the ``RunnableConfig``. A denial raises ``ToolException``, which the tool
turns into an error result (``handle_tool_error=True``). Do not use a callback handler's
``on_tool_start`` as a gate: with the default ``raise_error = False`` LangChain only logs the
exception and runs the tool (fail open).

Fail closed: any exception in the gate denies.
"""


from typing import Any, Callable

from ._core import ToolGate, Verdict

__all__ = ["check", "guard_tool", "tool_call_middleware"]

_FAILED = "Tool call denied: the policy check failed."


def check(gate: ToolGate, request: Any) -> Verdict:
    """The verdict for one ``ToolCallRequest`` (never raises)."""
    try:
        call = request.tool_call
        runtime = getattr(request, "runtime", None)
        return gate.check_tool(
            call["name"],
            call.get("args"),
            call_id=call.get("id"),
            source=getattr(runtime, "context", None),
        )
    except Exception as e:  # fail closed
        return Verdict(False, message=_FAILED, error=e)


def _denial(request: Any, verdict: Verdict) -> Any:
    from langchain_core.messages import ToolMessage

    call = getattr(request, "tool_call", None) or {}
    return ToolMessage(
        content=verdict.message or _FAILED,
        tool_call_id=call.get("id") or "",
        name=call.get("name"),
        status="error",
    )


def tool_call_middleware(gate: ToolGate) -> Any:
    """An ``AgentMiddleware`` deciding every tool call of an agent (sync and async)."""
    from langchain.agents.middleware import AgentMiddleware

    class MandateToolGuard(AgentMiddleware):  # type: ignore[misc,type-arg,unused-ignore]
        """Decides every tool call with Mandate before it runs."""

        def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            verdict = check(gate, request)
            if verdict.allowed is not True:
                return _denial(request, verdict)
            return handler(request)

        async def awrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            verdict = check(gate, request)
            if verdict.allowed is not True:
                return _denial(request, verdict)
            return await handler(request)

    return MandateToolGuard()


def guard_tool(tool: Any, gate: ToolGate) -> Any:
    """A ``BaseTool`` that asks ``gate`` before running ``tool``; same name, description and
    arguments."""
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import BaseTool, ToolException

    inner = tool

    def decide(kwargs: Any, config: Any) -> None:
        try:
            verdict = gate.check_tool(inner.name, dict(kwargs), source=config)
        except Exception as e:  # fail closed
            verdict = Verdict(False, message=_FAILED, error=e)
        if verdict.allowed is not True:
            raise ToolException(verdict.message or _FAILED)

    class GuardedTool(BaseTool):  # type: ignore[misc,unused-ignore]
        name: str = inner.name
        description: str = inner.description
        args_schema: Any = inner.args_schema
        handle_tool_error: Any = True

        def _run(self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any) -> Any:
            decide(kwargs, config)
            return inner.invoke(kwargs, config=config)

        async def _arun(
            self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any
        ) -> Any:
            decide(kwargs, config)
            return await inner.ainvoke(kwargs, config=config)

    return GuardedTool()
