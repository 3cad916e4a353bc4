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
