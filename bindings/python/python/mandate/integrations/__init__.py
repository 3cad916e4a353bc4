"""Guards for agent frameworks: ``mandate.integrations.<framework>``.

Each adapter imports its framework lazily (install with ``pip install mandate[mcp]``,
``[langchain]``, ``[openai-agents]`` or ``[crewai]``) and maps a tool call to a request through a
:class:`ToolGate`:

- the **principal** comes from a trusted source that you configure (a callable receiving the
  :class:`ToolCall`, whose ``source`` is the framework's own context object), never from the
  model's arguments;
- the **action** comes from the tool name, through a mapping you configure;
- the **resource** and **context** come from the tool name and arguments.

A denied call is answered with a tool-level error message the model can read; the tool never
runs. Every adapter **fails closed**: an exception anywhere in the gate is a denial.
"""

from __future__ import annotations

from ._core import ToolCall, ToolGate, Verdict

__all__ = ["ToolCall", "ToolGate", "Verdict"]
