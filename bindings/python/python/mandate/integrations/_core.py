"""The framework-independent part of every tool guard: tool call -> request -> verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

#: What a configured value may be: a constant, or a callable of the tool call.
Entityish = Any


@dataclass
class ToolCall:
    """One attempted tool call, as the gate sees it."""

    #: The tool's name.
    name: str
    #: The arguments the model gave (a dict; JSON text is decoded).
    arguments: Dict[str, Any] = field(default_factory=dict)
    #: The framework's call id, when it has one.
    call_id: Optional[str] = None
    #: The framework's own context object (MCP request context, LangChain runtime, OpenAI run
    #: context, CrewAI hook context): read the trusted identity from it.
    source: Any = None
    #: Request metadata (MCP ``_meta``). Client-asserted: never a source of identity in production.
    meta: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    """The gate's answer."""

    #: Whether the tool may run.
    allowed: bool
    #: For a denial, the message for the model.
    message: str = ""
    #: The engine's decision, when it got that far.
    decision: Any = None
    #: The exception that made the gate deny, when it failed.
    error: Optional[BaseException] = None


def _arguments(raw: Any) -> Dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        value = json.loads(raw)
    else:
        value = raw
    if isinstance(value, Mapping):
        return dict(value)
    return {"input": value}


class ToolGate:
    """Decides tool calls with a Mandate engine.

    - ``principal``: an entity, or ``callable(call: ToolCall) -> entity`` reading a trusted
      identity (e.g. from ``call.source``);
    - ``action``: an entity (one action for every tool, e.g. ``'Platform::Action::"InvokeTool"'``),
      a mapping ``{tool name: entity}`` (a tool missing from it is denied, unless the mapping has
      a ``"*"`` entry), or ``callable(call) -> entity``; default ``<action_type>::"<tool name>"``;
    - ``resource``: an entity or ``callable(call) -> entity``; default
      ``<resource_type>::"<tool name>"``;
    - ``context``: a dict or ``callable(call) -> dict``; default ``{}``;
    - ``on_behalf_of``: an entity, a list, or ``callable(call) -> entity | list``;
    - ``deny_message``: ``callable(call, verdict) -> str`` to word denials yourself.

    :meth:`check` never raises: any exception is a denial (fail closed).
    """

    def __init__(
        self,
        engine: Any,
        principal: Union[Entityish, Callable[[ToolCall], Entityish]],
        *,
        action: Union[Entityish, Mapping[str, Entityish], Callable[[ToolCall], Entityish], None] = None,
        resource: Union[Entityish, Callable[[ToolCall], Entityish], None] = None,
        context: Union[Mapping[str, Any], Callable[[ToolCall], Mapping[str, Any]], None] = None,
        on_behalf_of: Any = None,
        action_type: str = "Action",
        resource_type: str = "Tool",
        deny_message: Optional[Callable[[ToolCall, Verdict], str]] = None,
    ) -> None:
        self.engine = engine
        self.principal = principal
        self.action = action
        self.resource = resource
        self.context = context
        self.on_behalf_of = on_behalf_of
        self.action_type = action_type
        self.resource_type = resource_type
        self.deny_message = deny_message

    # -- mapping -----------------------------------------------------------------------------

    @staticmethod
    def _value(value: Any, call: ToolCall) -> Any:
        return value(call) if callable(value) else value

    def _action(self, call: ToolCall) -> Any:
        a = self.action
        if a is None:
            return (self.action_type, call.name)
        if isinstance(a, Mapping):
            if call.name in a:
                return a[call.name]
            if "*" in a:
                return a["*"]
            raise LookupError(f"no action is configured for tool `{call.name}`")
        return self._value(a, call)

    def request(self, call: ToolCall) -> Dict[str, Any]:
        """The request for a call (raises when it cannot be built)."""
        principal = self._value(self.principal, call)
        if principal is None:
            raise LookupError("no principal: the trusted identity is missing")
        resource = (
            self._value(self.resource, call)
            if self.resource is not None
            else (self.resource_type, call.name)
        )
        context = self._value(self.context, call) if self.context is not None else None
        obo = self._value(self.on_behalf_of, call) if self.on_behalf_of is not None else None
        return {
            "principal": principal,
            "action": self._action(call),
            "resource": resource,
            "context": dict(context) if context is not None else None,
            "on_behalf_of": obo,
        }

    # -- deciding ----------------------------------------------------------------------------

    def check(self, call: ToolCall, *, dry_run: bool = False) -> Verdict:
        """Decides one call. Never raises: an error is a denial."""
        try:
            req = self.request(call)
            decision = self.engine.authorize(
                req["principal"],
                req["action"],
                req["resource"],
                context=req["context"],
                on_behalf_of=req["on_behalf_of"],
                dry_run=dry_run,
            )
            if decision.allowed is True:
                return Verdict(True, decision=decision)
            verdict = Verdict(False, decision=decision)
            verdict.message = self._message(call, verdict)
            return verdict
        except Exception as e:  # fail closed
            verdict = Verdict(False, error=e)
            try:
                verdict.message = self._message(call, verdict)
            except Exception:
                verdict.message = f"Tool `{call.name}` was denied: the policy check failed."
            return verdict

    def check_tool(
        self,
        name: str,
        arguments: Any = None,
        *,
        call_id: Optional[str] = None,
        source: Any = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> Verdict:
        """:meth:`check` from parts; ``arguments`` may be a dict or JSON text."""
        try:
            call = ToolCall(
                name=str(name),
                arguments=_arguments(arguments),
                call_id=call_id,
                source=source,
                meta=dict(meta or {}),
            )
        except Exception as e:  # fail closed: unreadable arguments deny
            return Verdict(
                False,
                message=f"Tool `{name}` was denied: its arguments could not be read.",
                error=e,
            )
        return self.check(call)

    def allowed_tools(
        self, names: Iterable[str], *, source: Any = None, meta: Optional[Mapping[str, Any]] = None
    ) -> List[str]:
        """The tools a caller may use at all (dry runs with empty arguments): for filtering tool
        lists. A tool whose request cannot be built without arguments is left out."""
        out = []
        for name in names:
            call = ToolCall(name=name, source=source, meta=dict(meta or {}))
            if self.check(call, dry_run=True).allowed:
                out.append(name)
        return out

    def _message(self, call: ToolCall, verdict: Verdict) -> str:
        if self.deny_message is not None:
            return self.deny_message(call, verdict)
        if verdict.decision is None:
            return (
                f"Tool `{call.name}` was denied: the policy check failed "
                f"({type(verdict.error).__name__}). Do not retry this call."
            )
        d = verdict.decision
        reasons = ", ".join(d.reasons) or "no policy permits it"
        retry = ""
        for q in d.quota or []:
            if not q.get("admitted") and q.get("retry_after_ms") is not None:
                retry = f" Retry after {q['retry_after_ms']} ms."
        return f"Tool `{call.name}` was denied by policy ({d.layer}: {reasons}).{retry}"
