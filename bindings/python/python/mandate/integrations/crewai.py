"""CrewAI: a pre-tool-call hook (``pip install mandate[crewai]``).

::

    from mandate.integrations import ToolGate
    from mandate.integrations.crewai import install_hook

    gate = ToolGate(engine,
                    principal=lambda call: ("Platform::Agent", call.source.agent.role),
                    action='Platform::Action::"InvokeTool"',
                    resource_type="Platform::Tool")
    install_hook(gate)        # process-global, as CrewAI hooks are

``ToolCall.source`` is CrewAI's ``ToolCallHookContext`` (``agent``, ``task``, ``crew``). A denial
raises ``HookAborted``: the tool does not run and the agent reads "Tool execution blocked by
hook". CrewAI swallows any *other* exception a hook raises and runs the tool anyway (fail open),
so this hook converts every error, including its own, into ``HookAborted``.
"""

from __future__ import annotations

from typing import Any, Callable

from ._core import ToolGate, Verdict

__all__ = ["check", "install_hook", "pre_tool_call_hook", "tool_name"]


def tool_name(ctx: Any) -> str:
    """The tool's declared name. CrewAI puts a sanitized name in ``ctx.tool_name``
    (``ticket-search`` becomes ``ticket_search``); the tool object about to run keeps the name
    it was declared with, which is the one policies name."""
    declared = getattr(getattr(ctx, "tool", None), "name", None)
    if isinstance(declared, str) and declared:
        return declared
    return getattr(ctx, "tool_name", None) or "<unknown>"


def check(gate: ToolGate, ctx: Any) -> Verdict:
    """The verdict for one ``ToolCallHookContext`` (never raises)."""
    try:
        return gate.check_tool(
            tool_name(ctx),
            getattr(ctx, "tool_input", None),
            source=ctx,
        )
    except Exception as e:  # fail closed
        return Verdict(False, message="Tool call denied: the policy check failed.", error=e)


def pre_tool_call_hook(gate: ToolGate) -> Callable[[Any], None]:
    """The hook function (not registered): raises ``HookAborted`` unless the call is allowed."""
    from crewai.hooks import HookAborted  # type: ignore[import-not-found,unused-ignore]

    def mandate_pre_tool_call(ctx: Any) -> None:
        try:
            verdict = check(gate, ctx)
            allowed = verdict.allowed is True
            message = verdict.message
        except BaseException:  # fail closed, whatever happened
            allowed, message = False, "Tool call denied: the policy check failed."
        if not allowed:
            raise HookAborted(message, "mandate")

    return mandate_pre_tool_call


def install_hook(gate: ToolGate) -> Callable[[Any], None]:
    """Registers the hook for every tool call of every crew in the process; returns it."""
    from crewai.hooks import InterceptionPoint, on  # type: ignore[import-not-found,unused-ignore]

    hook = pre_tool_call_hook(gate)
    on(InterceptionPoint.PRE_TOOL_CALL)(hook)
    return hook
