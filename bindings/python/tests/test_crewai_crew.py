"""CrewAI end to end, offline: a crew whose scripted LLM asks for one denied and one allowed
tool. The installed Mandate hook blocks the denied tool before its body runs; the agent reads
the denial and goes on. Runs only when ``crewai`` is installed (about 1 GB, so not in CI;
``MANDATE_PY_CREWAI=1 bindings/python/run-tests.sh`` installs it)."""

from __future__ import annotations

import os
from typing import Any, List

import pytest

import mandate
from conftest import CTX, INVOKE

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

crewai = pytest.importorskip("crewai")
dispatch = pytest.importorskip("crewai.hooks.dispatch")

from crewai import Agent, Crew, Task  # noqa: E402
from crewai.hooks import InterceptionPoint  # noqa: E402
from crewai.llms.base_llm import BaseLLM  # noqa: E402
from crewai.tools import BaseTool  # noqa: E402

from mandate.integrations import ToolGate  # noqa: E402
from mandate.integrations.crewai import install_hook  # noqa: E402

RAN: List[str] = []


class RefundIssuer(BaseTool):
    name: str = "refund-issuer"
    description: str = "Issues a refund."

    def _run(self, amount: int = 0) -> str:
        RAN.append(self.name)
        return f"refunded {amount}"


class TicketSearch(BaseTool):
    name: str = "ticket-search"
    description: str = "Searches tickets."

    def _run(self, q: str = "") -> str:
        RAN.append(self.name)
        return f"3 tickets match {q!r}"


class ScriptedLLM(BaseLLM):
    """Answers in CrewAI's ReAct text format, one scripted step per call; keeps what it was sent."""

    script: List[str] = []
    seen: List[Any] = []

    def call(self, messages: Any, tools: Any = None, callbacks: Any = None,
             available_functions: Any = None, from_task: Any = None, from_agent: Any = None,
             response_model: Any = None) -> str:
        self.seen.append(messages)
        return self.script.pop(0) if self.script else "Thought: done\nFinal Answer: done"

    def supports_function_calling(self) -> bool:
        return False


def test_denied_tool_never_runs_in_a_crew(engine: mandate.Engine) -> None:
    RAN.clear()
    gate = ToolGate(engine, principal=lambda call: ("Platform::Agent", call.source.agent.role),
                    action=INVOKE, resource_type="Platform::Tool", context=CTX)
    hook = install_hook(gate)
    try:
        llm = ScriptedLLM(model="scripted", script=[
            'Thought: refund first\nAction: refund-issuer\nAction Input: {"amount": 500}',
            'Thought: search instead\nAction: ticket-search\nAction Input: {"q": "refund"}',
            "Thought: I have what I need\nFinal Answer: searched, refund blocked",
        ])
        bot = Agent(role="triage-bot", goal="triage tickets", backstory="a support agent",
                    llm=llm, tools=[RefundIssuer(), TicketSearch()], max_iter=5,
                    allow_delegation=False, verbose=False)
        task = Task(description="Handle ticket 42", expected_output="a summary", agent=bot)
        result = Crew(agents=[bot], tasks=[task], verbose=False).kickoff()
    finally:
        assert dispatch.unregister(InterceptionPoint.PRE_TOOL_CALL, hook)

    assert RAN == ["ticket-search"], "the denied tool's body ran, or the allowed one did not"
    assert "refund blocked" in str(result)
    # The agent was told, in its next prompt, that the tool call was blocked.
    later = " ".join(str(m) for m in llm.seen[1:])
    assert "blocked" in later.lower()
