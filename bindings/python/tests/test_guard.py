"""The generic guard and the framework-independent ToolGate: decisions, denials, and failing
closed on every kind of error."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

import mandate
from conftest import CTX, INVOKE, agent
from mandate.integrations import ToolCall, ToolGate


def test_guard_allows_and_denies(engine: mandate.Engine) -> None:
    ran: List[str] = []

    @mandate.guard(engine, principal=agent("triage-bot"), action=INVOKE,
                   resource_from=lambda name: ("Platform::Tool", name), context_from=CTX)
    def use_tool(name: str) -> str:
        ran.append(name)
        return f"used {name}"

    assert use_tool("ticket-search") == "used ticket-search"
    with pytest.raises(mandate.Denied) as info:
        use_tool("refund-issuer")
    assert info.value.decision is not None and info.value.decision.reasons == [
        "no-high-risk-tools-in-prod-for-low-trust-agents"]
    assert isinstance(info.value, PermissionError)
    assert ran == ["ticket-search"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"principal": lambda: 1 / 0},  # the identity source raises
        {"principal": 42},  # not an entity
        {"context_from": lambda name: {"env": 3}},  # context the schema rejects
        {"resource_from": lambda name: ("Platform::Tool",)},  # malformed entity
        {"action": 'Platform::Action::"NoSuchAction"'},  # unknown action
    ],
)
def test_guard_fails_closed(engine: mandate.Engine, kwargs: Dict[str, Any]) -> None:
    ran: List[str] = []
    config: Dict[str, Any] = dict(principal=agent("triage-bot"), action=INVOKE,
                                  resource_from=lambda name: ("Platform::Tool", name), context_from=CTX)
    config.update(kwargs)

    @mandate.guard(engine, **config)
    def use_tool(name: str) -> None:
        ran.append(name)

    with pytest.raises(mandate.Denied) as info:
        use_tool("ticket-search")
    assert info.value.decision is None and info.value.error is not None
    assert ran == []


def test_guard_fails_closed_when_the_engine_errors() -> None:
    class Broken:
        def authorize(self, *a: Any, **k: Any) -> Any:
            raise mandate.InternalError("boom")

    @mandate.guard(Broken(), principal=("U", "a"), resource_from=("R", "r"))
    def f() -> None:
        raise AssertionError("must not run")

    with pytest.raises(mandate.Denied, match="could not decide"):
        f()


def test_guard_on_async_functions(engine: mandate.Engine) -> None:
    @mandate.guard(engine, principal=agent("summarizer"), action=INVOKE,
                   resource_from=lambda name: ("Platform::Tool", name), context_from=CTX)
    async def use_tool(name: str) -> str:
        raise AssertionError("must not run")

    with pytest.raises(mandate.Denied):
        asyncio.run(use_tool("ticket-search"))


def _gate(engine: mandate.Engine, **kw: Any) -> ToolGate:
    defaults: Dict[str, Any] = dict(
        principal=lambda call: call.source["agent"],
        action=INVOKE,
        resource_type="Platform::Tool",
        context=lambda call: dict(CTX, approved=bool(call.arguments.get("approved", False))),
    )
    defaults.update(kw)
    return ToolGate(engine, **defaults)


def test_tool_gate_verdicts(engine: mandate.Engine) -> None:
    gate = _gate(engine)
    ok = gate.check_tool("ticket-search", '{"q": "x"}', source={"agent": agent("triage-bot")})
    assert ok.allowed and ok.decision.allowed
    no = gate.check_tool("refund-issuer", {}, source={"agent": agent("triage-bot")})
    assert not no.allowed
    assert "refund-issuer" in no.message and "no-high-risk-tools" in no.message
    assert gate.allowed_tools(["ticket-search", "refund-issuer", "shell"],
                              source={"agent": agent("triage-bot")}) == ["ticket-search"]


@pytest.mark.parametrize(
    "kw, source, arguments",
    [
        ({}, {}, {}),  # no identity in the source
        ({"principal": lambda call: None}, {}, {}),  # identity missing
        ({}, {"agent": agent("triage-bot")}, "{not json"),  # unreadable arguments
        ({"action": {"other-tool": INVOKE}}, {"agent": agent("triage-bot")}, {}),  # unmapped tool
        ({"context": lambda call: 1 / 0}, {"agent": agent("triage-bot")}, {}),
        ({"deny_message": lambda c, v: 1 / 0, "principal": lambda c: 1 / 0}, {}, {}),
    ],
)
def test_tool_gate_fails_closed(engine: mandate.Engine, kw: Dict[str, Any], source: Any, arguments: Any) -> None:
    gate = _gate(engine, **kw)
    verdict = gate.check_tool("ticket-search", arguments, source=source)
    assert verdict.allowed is False
    assert verdict.message  # something the model can read
    assert "ticket-search" in verdict.message or "denied" in verdict.message


def test_tool_gate_action_mapping(engine: mandate.Engine) -> None:
    gate = _gate(engine, action={"search": INVOKE, "*": 'Platform::Action::"ConfigureTool"'},
                 resource=lambda call: ("Platform::Tool", "ticket-search"))
    src = {"agent": agent("triage-bot")}
    assert gate.check(ToolCall("search", source=src)).allowed
    assert not gate.check(ToolCall("configure", source=src)).allowed


def test_integration_checks_fail_closed_without_frameworks(engine: mandate.Engine) -> None:
    # The adapters' checking functions never raise and deny on garbage input, with no framework
    # installed.
    from mandate.integrations import crewai, langchain, mcp, openai_agents

    gate = _gate(engine)
    for verdict in (
        mcp.check(gate, object()),
        langchain.check(gate, object()),
        openai_agents.check(gate, object()),
        crewai.check(gate, object()),
    ):
        assert verdict.allowed is False and verdict.message
