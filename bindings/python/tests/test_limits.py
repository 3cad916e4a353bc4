"""``limits={...}`` on ``Engine.from_strings`` and ``Engine.from_dir``: each limit tested at
limit - 1 and limit (accepted) and limit + 1 (``PolicyError`` naming the limit and the value)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import mandate

PERMIT = "permit(principal, action, resource);"


def _users(n: int) -> List[Dict[str, Any]]:
    return [{"uid": {"type": "User", "id": f"u{i}"}, "attrs": {}, "parents": []} for i in range(n)]


@pytest.mark.parametrize("n, ok", [(2, True), (3, True), (4, False)])
def test_max_policies(n: int, ok: bool) -> None:
    policies = {"p.cedar": PERMIT * n}
    if ok:
        engine = mandate.Engine.from_strings(policies, limits={"max_policies": 3})
        assert engine.authorize(("User", "u"), ("Action", "read"), ("Doc", "d")).allowed
    else:
        with pytest.raises(mandate.PolicyError, match=r"4 is more than the limit `max_policies` = 3"):
            mandate.Engine.from_strings(policies, limits={"max_policies": 3})


@pytest.mark.parametrize("n, ok", [(4, True), (5, True), (6, False)])
def test_max_entities_from_dir(tmp_path: Path, n: int, ok: bool) -> None:
    (tmp_path / "p.cedar").write_text(PERMIT)
    entities = tmp_path / "entities.json"
    entities.write_text(json.dumps(_users(n)))
    if ok:
        mandate.Engine.from_dir(tmp_path, entities=entities, limits={"max_entities": 5})
    else:
        with pytest.raises(mandate.PolicyError, match=r"6 is more than the limit `max_entities` = 5"):
            mandate.Engine.from_dir(tmp_path, entities=entities, limits={"max_entities": 5})


@pytest.mark.parametrize("n, ok", [(7, True), (8, True), (9, False)])
def test_max_string_bytes_in_entities(n: int, ok: bool) -> None:
    entities = [{"uid": {"type": "User", "id": "u"}, "attrs": {"name": "x" * n}, "parents": []}]
    build = lambda: mandate.Engine.from_strings(  # noqa: E731
        PERMIT, entities=entities, limits={"max_string_bytes": 8}
    )
    if ok:
        build()
    else:
        with pytest.raises(mandate.PolicyError, match=r"9 is more than the limit `max_string_bytes` = 8"):
            build()


@pytest.mark.parametrize("n, allowed", [(1, True), (2, True), (3, False)])
def test_max_delegation_depth(n: int, allowed: bool) -> None:
    engine = mandate.Engine.from_strings(PERMIT, limits={"max_delegation_depth": 2})
    chain = [("User", f"p{i}") for i in range(n)]
    d = engine.authorize(("User", "u"), ("Action", "read"), ("Doc", "d"), on_behalf_of=chain)
    assert d.allowed == allowed
    if not allowed:
        assert any("3 is more than the limit `max_delegation_depth` = 2" in str(e) for e in d.errors), d.errors


def test_limits_dict_overrides_max_delegation() -> None:
    engine = mandate.Engine.from_strings(PERMIT, max_delegation=1, limits={"max_delegation_depth": 3})
    chain = [("User", f"p{i}") for i in range(3)]
    assert engine.authorize(("User", "u"), ("Action", "read"), ("Doc", "d"), on_behalf_of=chain).allowed


def test_unknown_limit_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown limit `max_nothing`"):
        mandate.Engine.from_strings(PERMIT, limits={"max_nothing": 1})


# -- every limit at limit - 1, limit and limit + 1 --------------------------------------------
#
# Each case makes an input of size ``n`` and tries it with the limit at ``V``: ``n`` = V - 1 and V
# are accepted, V + 1 is refused with a message naming the limit and the value. A limit of
# ``default_limits()`` without a case fails ``test_every_limit_has_a_case``.

REQUEST = (("User", "u"), ("Action", "read"), ("Doc", "d"))


def _decide(engine: mandate.Engine, context: Any = None) -> mandate.Decision:
    return engine.authorize(*REQUEST, context=context)


def _policy_case(limit: str, v: int, make: Any) -> Any:
    def run(n: int) -> None:
        engine = mandate.Engine.from_strings({"p.cedar": make(n)}, limits={limit: v})
        assert _decide(engine).allowed

    return run


def _from_dir_case(limit: str, v: int, make: Any) -> Any:
    def run(n: int, tmp: Path) -> None:
        (tmp / "p.cedar").write_text(make(n))
        engine = mandate.Engine.from_dir(tmp, limits={limit: v})
        assert _decide(engine).allowed

    return run


def _chain(n: int) -> List[Dict[str, Any]]:
    """u -> g1 -> ... -> gn: u has n ancestors."""
    out = [{"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": [{"type": "Group", "id": "g1"}]}]
    for i in range(1, n + 1):
        parents = [{"type": "Group", "id": f"g{i + 1}"}] if i < n else []
        out.append({"uid": {"type": "Group", "id": f"g{i}"}, "attrs": {}, "parents": parents})
    return out


def _request_json(pad: int) -> str:
    return json.dumps(
        {
            "principal": {"type": "User", "id": "u"},
            "action": {"type": "Action", "id": "read"},
            "resource": {"type": "Doc", "id": "d"},
            "context": {"pad": "x" * pad},
        },
        separators=(",", ":"),
    )


def _record_len(log: Path) -> int:
    line = next(l for l in log.read_text().splitlines() if '"pad"' in l)
    return line.rindex(',"hash":"') - line.index(',"record":') - len(',"record":')


def _audit_engine(tmp: Path, v: int) -> mandate.Engine:
    (tmp / "p.cedar").write_text(PERMIT)
    return mandate.Engine.from_dir(tmp, state_dir=tmp / "state", limits={"max_audit_record_bytes": v})


def _audit_run(v: int, base: int, pad0: int) -> Any:
    def run(n: int, tmp: Path) -> None:
        engine = _audit_engine(tmp, v)
        d = engine.authorize(*REQUEST, context={"pad": "x" * (pad0 + n - base)})
        if not d.allowed:
            raise mandate.MandateError("; ".join(str(e) for e in d.errors))

    return run


def _cases(tmp_path: Path) -> Dict[str, Tuple[int, Any]]:
    """Limit name -> (V, run(n, tmp)) where run raises for an input over the limit."""
    # The audit record's size at a known pad, measured once.
    probe = tmp_path / "probe"
    probe.mkdir()
    pad0 = 100
    engine = _audit_engine(probe, mandate.default_limits()["max_audit_record_bytes"])
    assert engine.authorize(*REQUEST, context={"pad": "x" * pad0}).allowed
    del engine
    base = _record_len(probe / "state" / "audit" / "audit.jsonl")
    v_audit = base + 20

    def ctx_string(n: int, tmp: Path) -> None:
        engine = mandate.Engine.from_strings(PERMIT, limits={"max_string_bytes": 8})
        assert _decide(engine, {"s": "x" * n}).allowed

    def ctx_set(n: int, tmp: Path) -> None:
        engine = mandate.Engine.from_strings(PERMIT, limits={"max_set_elements": 8})
        assert _decide(engine, {"s": list(range(n))}).allowed

    def id_string(n: int, tmp: Path) -> None:
        engine = mandate.Engine.from_strings(PERMIT, limits={"max_string_bytes": 8})
        assert engine.authorize(("User", "x" * n), ("Action", "read"), ("Doc", "d")).allowed

    def ancestors(n: int, tmp: Path) -> None:
        mandate.Engine.from_strings(PERMIT, entities=_chain(n), limits={"max_ancestors": 4})

    def request_bytes(n: int, tmp: Path) -> None:
        base_len = len(_request_json(0))
        engine = mandate.Engine.from_strings(PERMIT, limits={"max_request_bytes": base_len + 10})
        assert engine.authorize_json(_request_json(n - base_len)).allowed

    def delegation(n: int, tmp: Path) -> None:
        engine = mandate.Engine.from_strings(PERMIT, limits={"max_delegation_depth": 3})
        d = engine.authorize(*REQUEST, on_behalf_of=[("User", f"p{i}") for i in range(n)])
        if not d.allowed:
            raise mandate.MandateError("; ".join(str(e) for e in d.errors))

    nested = lambda n: "permit(principal, action, resource) unless { %sfalse%s };" % ("(" * (n - 1), ")" * (n - 1))  # noqa: E731
    return {
        "max_source_bytes": (len(PERMIT) + 5, _from_dir_case("max_source_bytes", len(PERMIT) + 5, lambda n: PERMIT + " " * (n - len(PERMIT)))),
        "max_source_lines": (5, _from_dir_case("max_source_lines", 5, lambda n: PERMIT + "\n" * n)),
        "max_nesting_depth": (6, lambda n, tmp: _policy_case("max_nesting_depth", 6, nested)(n)),
        "max_policies": (3, lambda n, tmp: _policy_case("max_policies", 3, lambda k: PERMIT * k)(n)),
        "max_string_bytes": (8, ctx_string),
        "max_set_elements": (8, ctx_set),
        "max_entities": (5, lambda n, tmp: mandate.Engine.from_strings(PERMIT, entities=_users(n), limits={"max_entities": 5})),
        "max_ancestors": (4, ancestors),
        "max_request_bytes": (len(_request_json(0)) + 10, request_bytes),
        "max_delegation_depth": (3, delegation),
        "max_audit_record_bytes": (v_audit, _audit_run(v_audit, base, pad0)),
        # Not a limit name: the ids of a typed (tuple) request.
        "max_string_bytes (entity id)": (8, id_string),
    }


def test_every_limit_has_a_case(tmp_path: Path) -> None:
    cases = _cases(tmp_path)
    assert set(mandate.default_limits()) <= set(cases), set(mandate.default_limits()) - set(cases)
    assert mandate.default_limits()["max_delegation_depth"] == 4


def test_every_limit_at_limit_minus_1_limit_and_limit_plus_1(tmp_path: Path) -> None:
    for name, (v, run) in _cases(tmp_path).items():
        limit = name.split(" ")[0]
        for n in (v - 1, v):
            work = tmp_path / f"{limit}-{n}-{len(name)}"
            work.mkdir()
            run(n, work)
        work = tmp_path / f"{limit}-over-{len(name)}"
        work.mkdir()
        with pytest.raises(mandate.MandateError) as info:
            run(v + 1, work)
        message = str(info.value)
        assert f"{v + 1} is more than the limit `{limit}` = {v}" in message, (name, message)
