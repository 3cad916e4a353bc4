"""OpenAI Agents SDK: a tool input guardrail (``pip install mandate[openai-agents]``).

::

    from agents import Agent, function_tool
    from mandate.integrations import ToolGate
    from mandate.integrations.openai_agents import tool_input_guardrail

    gate = ToolGate(engine,
                    principal=lambda call: call.source.agent_id,   # your run context
                    action='Platform::Action::"InvokeTool"',
                    resource_type="Platform::Tool")
    guard = tool_input_guardrail(gate)

    @function_tool(tool_input_guardrails=[guard])
    def ticket_search(query: str) -> str: ...

    await Runner.run(agent, "…", context=RunContext(agent_id=("Platform::Agent", "triage-bot")))

``ToolCall.source`` is the run context object passed as ``Runner.run(..., context=...)``; the
guardrail data itself is in ``ToolCall.meta["guardrail_data"]``. A denied call is skipped and the
model receives the denial message (``ToolGuardrailFunctionOutput.reject_content``). Any error in
the gate rejects the call too (fail closed).
"""

from __future__ import annotations

from typing import Any

from ._core import ToolGate, Verdict

__all__ = ["check", "tool_input_guardrail"]


def check(gate: ToolGate, data: Any) -> Verdict:
    """The verdict for one ``ToolInputGuardrailData`` (never raises)."""
    try:
        tc = data.context
        run_context = getattr(tc, "context", None)
        return gate.check_tool(
            tc.tool_name,
            getattr(tc, "tool_arguments", None),
            call_id=getattr(tc, "tool_call_id", None),
            source=run_context,
            meta={"guardrail_data": data},
        )
    except Exception as e:  # fail closed
        return Verdict(False, message="Tool call denied: the policy check failed.", error=e)


def tool_input_guardrail(gate: ToolGate, *, name: str = "mandate") -> Any:
    """A tool input guardrail deciding every call of the tools it is attached to."""
    from agents import ToolGuardrailFunctionOutput
    from agents import tool_input_guardrail as _decorator

    def mandate_guardrail(data: Any) -> Any:
        try:
            verdict = check(gate, data)
            if verdict.allowed is True:
                return ToolGuardrailFunctionOutput.allow()
            return ToolGuardrailFunctionOutput.reject_content(verdict.message)
        except Exception:  # fail closed
            return ToolGuardrailFunctionOutput.reject_content(
                "Tool call denied: the policy check failed."
            )

    mandate_guardrail.__name__ = name
    return _decorator(mandate_guardrail)
