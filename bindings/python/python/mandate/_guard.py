"""The generic guard: put ``engine.authorize`` in front of a plain function, failing closed."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Mapping, Optional, TypeVar, Union, cast

F = TypeVar("F", bound=Callable[..., Any])


class Denied(PermissionError):
    """A guarded call was refused. ``decision`` is the engine's decision, or None when the guard
    itself failed (then ``error`` holds the cause): a guard that cannot decide denies."""

    def __init__(
        self,
        message: str,
        decision: Optional[Any] = None,
        error: Optional[BaseException] = None,
    ) -> None:
        super().__init__(message)
        self.decision = decision
        self.error = error


def _resolve(value: Any, *args: Any, **kwargs: Any) -> Any:
    return value(*args, **kwargs) if callable(value) else value


def guard(
    engine: Any,
    principal: Any,
    action: Any = None,
    resource_from: Any = None,
    context_from: Union[Mapping[str, Any], Callable[..., Mapping[str, Any]], None] = None,
    *,
    on_behalf_of: Any = None,
) -> Callable[[F], F]:
    """Decorates a function (sync or async) so that every call is first decided by ``engine``.

    - ``principal``: an entity, or a zero-argument callable returning one (take it from a trusted
      source, e.g. your session or a ``contextvars.ContextVar``, never from the call arguments);
    - ``action``: an entity, or a callable ``(*args, **kwargs) -> entity``; default
      ``Action::"<function name>"``;
    - ``resource_from``: an entity, or a callable ``(*args, **kwargs) -> entity``;
    - ``context_from``: a dict, or a callable ``(*args, **kwargs) -> dict``;
    - ``on_behalf_of``: an entity or list, or a zero-argument callable returning one.

    A denial raises :class:`Denied` and the function body does not run. Fail closed: any error
    while building the request or deciding (a bad entity, an exception in a callable, an engine
    error) also raises ``Denied``, never runs the function.
    """

    if resource_from is None:
        raise TypeError("guard() needs resource_from (an entity or a callable)")

    def decide(fn_name: str, args: Any, kwargs: Any) -> None:
        try:
            who = principal() if callable(principal) else principal
            act = (
                _resolve(action, *args, **kwargs)
                if action is not None
                else f'Action::"{fn_name}"'
            )
            res = _resolve(resource_from, *args, **kwargs)
            ctx = _resolve(context_from, *args, **kwargs) if context_from is not None else None
            obo = on_behalf_of() if callable(on_behalf_of) else on_behalf_of
            decision = engine.authorize(who, act, res, context=ctx, on_behalf_of=obo)
        except Exception as e:  # fail closed: the call never runs
            raise Denied(
                f"`{fn_name}` denied: the guard could not decide ({type(e).__name__}: {e})",
                error=e,
            ) from e
        if decision.allowed is not True:
            raise Denied(
                f"`{fn_name}` denied by policy (layer {decision.layer}, "
                f"reasons: {', '.join(decision.reasons) or 'none'})",
                decision=decision,
            )

    def wrap(fn: F) -> F:
        name = getattr(fn, "__name__", "call")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                decide(name, args, kwargs)
                return await fn(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            decide(name, args, kwargs)
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    return wrap
