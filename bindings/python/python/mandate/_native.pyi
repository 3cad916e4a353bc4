# Stubs of the Rust extension (bindings/python/src/lib.rs), written by hand and checked against
# the built module by `mypy.stubtest` in run-tests.sh; `mandate/__init__.py` carries its own
# inline types.
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union, final

__all__ = [
    "AgentError",
    "Decision",
    "Entity",
    "InternalError",
    "MandateError",
    "NativeEngine",
    "PolicyError",
    "RequestError",
    "StoreError",
    "_panic_for_tests",
    "check",
    "default_limits",
    "engine_version",
    "lint",
]

_EntityLike = Union["Entity", Tuple[str, str], str, Mapping[str, Any]]

class MandateError(Exception): ...

class PolicyError(MandateError):
    diagnostics: List[Dict[str, Any]]

class RequestError(MandateError):
    diagnostics: List[Dict[str, Any]]

class StoreError(MandateError): ...
class AgentError(MandateError): ...
class InternalError(MandateError): ...

@final
class Entity:
    def __new__(cls, entity_type: str, id: str) -> "Entity": ...
    @staticmethod
    def parse(text: str) -> Entity: ...
    @property
    def type(self) -> str: ...
    @property
    def id(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Decision:
    @property
    def allowed(self) -> bool: ...
    @property
    def decision(self) -> str: ...
    @property
    def reasons(self) -> List[str]: ...
    @property
    def errors(self) -> List[Dict[str, str]]: ...
    @property
    def layer(self) -> str: ...
    @property
    def quota(self) -> List[Dict[str, Any]]: ...
    @property
    def id(self) -> str: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def denied_principal(self) -> Optional[str]: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def at_ms(self) -> int: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def explain(self) -> str: ...
    def __bool__(self) -> bool: ...

@final
class NativeEngine:
    @staticmethod
    def build(
        *,
        policy_paths: Optional[Sequence[str]] = None,
        policy_texts: Optional[Sequence[Tuple[str, str]]] = None,
        schema_path: Optional[str] = None,
        schema_text: Optional[str] = None,
        schema_json: bool = False,
        entities_path: Optional[str] = None,
        entities_json: Optional[str] = None,
        state_dir: Optional[str] = None,
        quota_store: Optional[str] = None,
        audit: Optional[Callable[[Dict[str, Any]], Any]] = None,
        error_mode: str = "deny-on-forbid-error",
        validate: bool = True,
        max_delegation: int = 4,
        on_store_failure: str = "deny",
        on_audit_failure: str = "deny",
        keep_versions: int = 10,
        actor: str = "",
        reason: str = "",
        reference: str = "",
        limits: Optional[Mapping[str, int]] = None,
    ) -> NativeEngine: ...
    def authorize(
        self,
        principal: _EntityLike,
        action: _EntityLike,
        resource: _EntityLike,
        context: Optional[Mapping[str, Any]] = None,
        on_behalf_of: Union[_EntityLike, Sequence[_EntityLike], None] = None,
        dry_run: bool = False,
        reserve: bool = False,
    ) -> Decision: ...
    def authorize_json(
        self, request: str, dry_run: bool = False, reserve: bool = False
    ) -> Decision: ...
    def authorize_many(
        self, requests: Iterable[Any], dry_run: bool = False, reserve: bool = False
    ) -> List[Decision]: ...
    def _time_decisions(self, requests: Iterable[Any], rounds: int = 1) -> float: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def audit_failures(self) -> int: ...
    def versions(self) -> List[Dict[str, Any]]: ...
    def reload(self, actor: str = "", reason: str = "", reference: str = "") -> str: ...
    def reload_policies(
        self,
        *,
        policy_paths: Optional[Sequence[str]] = None,
        policy_texts: Optional[Sequence[Tuple[str, str]]] = None,
        schema_path: Optional[str] = None,
        schema_text: Optional[str] = None,
        schema_json: bool = False,
        actor: str = "",
        reason: str = "",
        reference: str = "",
    ) -> str: ...
    def rollback(self, actor: str = "", reason: str = "", reference: str = "") -> str: ...
    def settle(self, decision_id: str, cost: int) -> Dict[str, Any]: ...
    def refund(self, decision_id: str) -> Dict[str, Any]: ...
    def quota_status(self, principal: _EntityLike) -> List[Dict[str, Any]]: ...
    def agent_register(
        self,
        agent: _EntityLike,
        owner: _EntityLike,
        *,
        display_name: Optional[str] = None,
        parents: Optional[Sequence[_EntityLike]] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        expires_ms: Optional[int] = None,
        actor: str = "",
        reason: str = "",
    ) -> Dict[str, Any]: ...
    def agent_update(
        self,
        agent: _EntityLike,
        owner: _EntityLike,
        *,
        display_name: Optional[str] = None,
        parents: Optional[Sequence[_EntityLike]] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        expires_ms: Optional[int] = None,
        actor: str = "",
        reason: str = "",
    ) -> Dict[str, Any]: ...
    def agent_transition(self, op: str, agent: _EntityLike, actor: str = "", reason: str = "") -> Dict[str, Any]: ...
    def agent_get(self, agent: _EntityLike) -> Optional[Dict[str, Any]]: ...
    def agent_list(self) -> List[Dict[str, Any]]: ...
    def agent_state(self, agent: _EntityLike) -> Optional[str]: ...

def check(paths: Sequence[str], schema: Optional[str] = None) -> List[Dict[str, Any]]: ...
def lint(
    paths: Sequence[str],
    schema: Optional[str] = None,
    config: Optional[str] = None,
    now_ms: Optional[int] = None,
) -> List[Dict[str, Any]]: ...
def default_limits() -> Dict[str, int]: ...
def engine_version() -> str: ...
def _panic_for_tests() -> None: ...
