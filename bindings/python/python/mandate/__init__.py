"""Mandate: policy-as-code for AI agents, a strict superset of Cedar.

A thin Python layer over the Rust engine (``mandate._native``)::

    import mandate

    engine = mandate.Engine.from_dir("policies/", schema="schema.cedarschema",
                                     entities="entities.json")
    decision = engine.authorize(("Platform::Agent", "triage-bot"),
                                'Platform::Action::"InvokeTool"',
                                mandate.Entity("Platform::Tool", "ticket-search"),
                                context={"env": "prod"})
    if decision.allowed:
        ...

Entities are given as ``mandate.Entity("Type", "id")``, ``("Type", "id")`` tuples or
``'Type::"id"'`` strings; contexts as plain dicts (use ``Entity`` for entity references inside
them). Every decision releases the GIL, so threads decide in parallel, and one ``Engine`` can be
shared by all threads.
"""

from __future__ import annotations

import json
import os
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _native
from ._guard import Denied, guard
from ._native import (
    AgentError,
    Decision,
    Entity,
    InternalError,
    MandateError,
    PolicyError,
    RequestError,
    StoreError,
)

__all__ = [
    "AgentError",
    "Agents",
    "Decision",
    "Denied",
    "Engine",
    "Entity",
    "EntityLike",
    "InternalError",
    "MandateError",
    "PolicyError",
    "RequestError",
    "StoreError",
    "check",
    "default_limits",
    "guard",
    "lint",
    "__version__",
]

__version__: str = _native.engine_version()


def default_limits() -> Dict[str, int]:
    """Every limit ``limits=`` takes (``mandate::Limits``), with its default; the reasons are in
    docs/security.md."""
    result: Dict[str, int] = _native.default_limits()
    return result

PathLike = Union[str, "os.PathLike[str]"]
#: An entity: ``Entity("Type", "id")``, ``("Type", "id")`` or ``'Type::"id"'``.
EntityLike = Union[Entity, Tuple[str, str], str]

_ERROR_MODES = ("deny-on-forbid-error", "cedar")


def _paths(value: Union[PathLike, Sequence[PathLike]]) -> List[str]:
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(p) for p in value]


def _entities_text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


class Agents:
    """Lifecycle operations on the engine's agent registry (``engine.agents``).

    Agents are returned as dicts with ``entity_type``, ``id``, ``owner``, ``parents``,
    ``attributes``, ``expires_ms``, ``created_ms``, ``state`` and ``history``.
    """

    __slots__ = ("_native",)

    def __init__(self, native: Any) -> None:
        self._native = native

    def register(
        self,
        agent: EntityLike,
        owner: EntityLike,
        *,
        display_name: Optional[str] = None,
        parents: Optional[Iterable[EntityLike]] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        expires_ms: Optional[int] = None,
        actor: str = "",
        reason: str = "",
    ) -> Dict[str, Any]:
        """Registers a new agent (checked against the schema). Raises ``AgentError``."""
        result: Dict[str, Any] = self._native.agent_register(
            agent,
            owner,
            display_name=display_name,
            parents=list(parents) if parents is not None else None,
            attributes=attributes,
            expires_ms=expires_ms,
            actor=actor,
            reason=reason,
        )
        return result

    def update(
        self,
        agent: EntityLike,
        owner: EntityLike,
        *,
        display_name: Optional[str] = None,
        parents: Optional[Iterable[EntityLike]] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        expires_ms: Optional[int] = None,
        actor: str = "",
        reason: str = "",
    ) -> Dict[str, Any]:
        """Replaces an agent's owner, display name, parents, attributes and expiry."""
        result: Dict[str, Any] = self._native.agent_update(
            agent,
            owner,
            display_name=display_name,
            parents=list(parents) if parents is not None else None,
            attributes=attributes,
            expires_ms=expires_ms,
            actor=actor,
            reason=reason,
        )
        return result

    def suspend(self, agent: EntityLike, *, actor: str = "", reason: str = "") -> Dict[str, Any]:
        """Suspends an agent: when this returns, no decision allows it."""
        result: Dict[str, Any] = self._native.agent_transition("suspend", agent, actor, reason)
        return result

    def resume(self, agent: EntityLike, *, actor: str = "", reason: str = "") -> Dict[str, Any]:
        """Lifts a suspension."""
        result: Dict[str, Any] = self._native.agent_transition("resume", agent, actor, reason)
        return result

    def revoke(self, agent: EntityLike, *, actor: str = "", reason: str = "") -> Dict[str, Any]:
        """Revokes an agent for good; its id is never reused."""
        result: Dict[str, Any] = self._native.agent_transition("revoke", agent, actor, reason)
        return result

    def get(self, agent: EntityLike) -> Optional[Dict[str, Any]]:
        """One agent, or None when it is not registered."""
        result: Optional[Dict[str, Any]] = self._native.agent_get(agent)
        return result

    def state(self, agent: EntityLike) -> Optional[str]:
        """``active``, ``suspended``, ``revoked`` or ``expired`` now; None when unregistered."""
        result: Optional[str] = self._native.agent_state(agent)
        return result

    def list(self) -> List[Dict[str, Any]]:
        """Every agent, revoked ones included."""
        result: List[Dict[str, Any]] = self._native.agent_list()
        return result

    def __repr__(self) -> str:
        return f"<mandate.Agents of {self._native!r}>"


class Engine:
    """Mandate's decision engine: lifecycle gate, Cedar-exact policies, delegation, quotas,
    policy versions with reload and rollback, audit records.

    Build it with :meth:`from_dir` or :meth:`from_strings`. Safe to share across threads.
    """

    def __init__(self, native: Any) -> None:
        self._native = native
        self.agents = Agents(native)
        # The native methods themselves: no Python frame between the caller and the engine.
        self.authorize = native.authorize  # type: ignore[method-assign]
        self.authorize_many = native.authorize_many  # type: ignore[method-assign]

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_dir(
        cls,
        path: Union[PathLike, Sequence[PathLike]],
        schema: Optional[PathLike] = None,
        entities: Union[PathLike, List[Any], None] = None,
        *,
        state_dir: Optional[PathLike] = None,
        quota_store: Optional[str] = None,
        audit: Optional[Any] = None,
        error_mode: str = "deny-on-forbid-error",
        validate: bool = True,
        max_delegation: int = 4,
        on_store_failure: str = "deny",
        on_audit_failure: str = "deny",
        keep_versions: int = 10,
        limits: Optional[Mapping[str, int]] = None,
    ) -> "Engine":
        """Loads policy files and directories (``*.cedar`` strict Cedar, ``*.mandate``).

        ``schema`` is a ``.cedarschema`` (or ``.json``) file; ``entities`` an entity JSON file, or
        the entities as Python data (a list in Cedar's entity JSON format). ``state_dir`` keeps
        the agent registry and quota journal across runs; ``quota_store`` is ``"memory"``
        (default) or ``"redis://HOST:PORT/"``; ``audit`` is a callable receiving each audit
        record as a dict. ``limits`` overrides some of the engine's limits by name, e.g.
        ``{"max_entities": 10_000}`` (``docs/security.md`` lists them; ``max_delegation`` is the
        older spelling of ``max_delegation_depth``, and the dict wins). Raises ``PolicyError``
        with every diagnostic, a limit exceeded included; ``ValueError`` for an unknown limit.
        """
        entities_path: Optional[str] = None
        entities_json: Optional[str] = None
        if isinstance(entities, (str, os.PathLike)):
            entities_path = os.fspath(entities)
        elif entities is not None:
            entities_json = json.dumps(entities)
        return cls(
            _native.NativeEngine.build(
                policy_paths=_paths(path),
                schema_path=os.fspath(schema) if schema is not None else None,
                entities_path=entities_path,
                entities_json=entities_json,
                state_dir=os.fspath(state_dir) if state_dir is not None else None,
                quota_store=quota_store,
                audit=audit,
                error_mode=error_mode,
                validate=validate,
                max_delegation=max_delegation,
                on_store_failure=on_store_failure,
                on_audit_failure=on_audit_failure,
                keep_versions=keep_versions,
                limits=dict(limits) if limits is not None else None,
            )
        )

    @classmethod
    def from_strings(
        cls,
        policies: Union[str, Mapping[str, str]],
        schema: Union[str, Mapping[str, Any], None] = None,
        entities: Union[str, List[Any], None] = None,
        *,
        state_dir: Optional[PathLike] = None,
        quota_store: Optional[str] = None,
        audit: Optional[Any] = None,
        error_mode: str = "deny-on-forbid-error",
        validate: bool = True,
        max_delegation: int = 4,
        on_store_failure: str = "deny",
        on_audit_failure: str = "deny",
        keep_versions: int = 10,
        limits: Optional[Mapping[str, int]] = None,
    ) -> "Engine":
        """Loads policies from text: one string (read as ``policies.mandate``) or a dict of
        ``{name: text}`` (a name ending in ``.cedar`` is strict Cedar).

        ``schema`` is Cedar schema text, or a dict (Cedar's JSON schema format); ``entities``
        is entity JSON text or the same as Python data.
        """
        if isinstance(policies, str):
            texts = [("policies.mandate", policies)]
        else:
            texts = [(str(name), text) for name, text in policies.items()]
        schema_text: Optional[str] = None
        schema_json = False
        if isinstance(schema, str):
            schema_text = schema
        elif schema is not None:
            schema_text = json.dumps(schema)
            schema_json = True
        return cls(
            _native.NativeEngine.build(
                policy_texts=texts,
                schema_text=schema_text,
                schema_json=schema_json,
                entities_json=_entities_text(entities),
                state_dir=os.fspath(state_dir) if state_dir is not None else None,
                quota_store=quota_store,
                audit=audit,
                error_mode=error_mode,
                validate=validate,
                max_delegation=max_delegation,
                on_store_failure=on_store_failure,
                on_audit_failure=on_audit_failure,
                keep_versions=keep_versions,
                limits=dict(limits) if limits is not None else None,
            )
        )

    # -- decisions ---------------------------------------------------------------------------

    def authorize(
        self,
        principal: EntityLike,
        action: EntityLike,
        resource: EntityLike,
        context: Optional[Mapping[str, Any]] = None,
        on_behalf_of: Union[EntityLike, Sequence[EntityLike], None] = None,
        dry_run: bool = False,
        reserve: bool = False,
    ) -> Decision:
        """Decides one request (replaced per instance by the native method)."""
        result: Decision = self._native.authorize(
            principal, action, resource, context, on_behalf_of, dry_run, reserve
        )
        return result

    def authorize_json(self, request: str, dry_run: bool = False, reserve: bool = False) -> Decision:
        """Decides one request given as request JSON text (``{"principal": …, "action": …,
        "resource": …, "context": …}``, as ``mandate authorize --request-json`` reads it), for
        callers that already hold the request as JSON; the text is checked against
        ``max_request_bytes`` before it is parsed."""
        result: Decision = self._native.authorize_json(request, dry_run, reserve)
        return result

    def authorize_many(
        self,
        requests: Iterable[Union[Mapping[str, Any], Tuple[Any, ...]]],
        dry_run: bool = False,
        reserve: bool = False,
    ) -> List[Decision]:
        """Decides many requests (dicts with principal, action, resource, context,
        on_behalf_of; or ``(principal, action, resource[, context[, on_behalf_of]])`` tuples)
        with one release of the GIL."""
        result: List[Decision] = self._native.authorize_many(requests, dry_run, reserve)
        return result

    def explain(
        self,
        principal: EntityLike,
        action: EntityLike,
        resource: EntityLike,
        context: Optional[Mapping[str, Any]] = None,
        on_behalf_of: Union[EntityLike, Sequence[EntityLike], None] = None,
    ) -> str:
        """What the engine would decide and why, as text; a dry run (nothing is charged)."""
        decision: Decision = self._native.authorize(
            principal, action, resource, context, on_behalf_of, True, False
        )
        return decision.explain()

    # -- quotas ------------------------------------------------------------------------------

    def settle(self, decision_id: str, cost: int) -> Dict[str, Any]:
        """Settles a reservation (``authorize(..., reserve=True)``) to the actual cost.
        Raises ``StoreError`` for an unknown, expired or already settled reservation."""
        result: Dict[str, Any] = self._native.settle(decision_id, cost)
        return result

    def refund(self, decision_id: str) -> Dict[str, Any]:
        """Releases a reservation entirely."""
        result: Dict[str, Any] = self._native.refund(decision_id)
        return result

    def quota_status(self, principal: EntityLike) -> List[Dict[str, Any]]:
        """Every quota that applies to ``principal``, with ``status`` (used, remaining, reset_ms)
        when its bucket is known."""
        result: List[Dict[str, Any]] = self._native.quota_status(principal)
        return result

    # -- policy versions ---------------------------------------------------------------------

    @property
    def policy_version(self) -> str:
        """The running policy version id, ``sha256:…``."""
        result: str = self._native.policy_version
        return result

    def versions(self) -> List[Dict[str, Any]]:
        """The kept versions, oldest first (the last is running)."""
        result: List[Dict[str, Any]] = self._native.versions()
        return result

    @property
    def audit_failures(self) -> int:
        """How many audit records could not be written."""
        result: int = self._native.audit_failures
        return result

    def reload(self, *, actor: str = "", reason: str = "", reference: str = "") -> str:
        """Re-reads the policy files (and schema) as a new version; returns its id. A set with
        errors raises ``PolicyError`` and the running version stays."""
        result: str = self._native.reload(actor, reason, reference)
        return result

    def reload_policies(
        self,
        policies: Union[PathLike, Sequence[PathLike], Mapping[str, str]],
        schema: Union[PathLike, Mapping[str, Any], None] = None,
        *,
        actor: str = "",
        reason: str = "",
        reference: str = "",
    ) -> str:
        """Replaces the policies: paths, or a dict of ``{name: text}``. ``schema`` (a path, or a
        JSON-schema dict) replaces the schema; None keeps the running one."""
        kwargs: Dict[str, Any] = {"actor": actor, "reason": reason, "reference": reference}
        if isinstance(policies, Mapping):
            kwargs["policy_texts"] = [(str(k), v) for k, v in policies.items()]
        else:
            kwargs["policy_paths"] = _paths(policies)
        if isinstance(schema, Mapping):
            kwargs["schema_text"] = json.dumps(schema)
            kwargs["schema_json"] = True
        elif schema is not None:
            kwargs["schema_path"] = os.fspath(schema)
        result: str = self._native.reload_policies(**kwargs)
        return result

    def rollback(self, *, actor: str = "", reason: str = "", reference: str = "") -> str:
        """Returns to the previous kept version; returns its id. Raises ``PolicyError`` when
        there is none."""
        result: str = self._native.rollback(actor, reason, reference)
        return result

    def __repr__(self) -> str:
        return repr(self._native)


def check(
    paths: Union[PathLike, Sequence[PathLike]], schema: Optional[PathLike] = None
) -> List[Dict[str, Any]]:
    """Parses policy files (and type-checks them against ``schema``), like ``mandate check``.

    Returns every diagnostic as a dict: ``code``, ``severity``, ``message``, ``file``, ``line``,
    ``column``, ``end_line``, ``end_column``, ``help``, ``note``, ``labels``, ``rendered``.
    Missing files raise ``PolicyError``.
    """
    result: List[Dict[str, Any]] = _native.check(
        _paths(paths), os.fspath(schema) if schema is not None else None
    )
    return result


def lint(
    paths: Union[PathLike, Sequence[PathLike]],
    schema: Optional[PathLike] = None,
    *,
    config: Optional[PathLike] = None,
    now_ms: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """``check`` plus Mandate's lints, like ``mandate lint``. ``config`` is a ``mandate.toml``
    (not looked up automatically); ``now_ms`` the time that ``expired-grant`` judges against."""
    config_text: Optional[str] = None
    if config is not None:
        with open(config, encoding="utf-8") as f:
            config_text = f.read()
    result: List[Dict[str, Any]] = _native.lint(
        _paths(paths),
        os.fspath(schema) if schema is not None else None,
        config_text,
        now_ms,
    )
    return result
