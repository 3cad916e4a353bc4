"""Mandate decides every request of the reference workloads as cedarpy (Cedar's own Python
binding) does. The workloads live in ../shared/bench (or $MANDATE_SHARED/bench); without them
the test says it skips, except under CI=true, where that is a failure."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import pytest

import mandate

cedarpy = pytest.importorskip("cedarpy")


def _shared() -> Optional[Path]:
    env = os.environ.get("MANDATE_SHARED")
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[3].parent / "shared"]
    for c in candidates:
        if (c / "bench" / "agent-platform").is_dir():
            return c / "bench" / "agent-platform"
    return None


@pytest.mark.parametrize("workload", ["n10", "n100"])
def test_decisions_match_cedarpy(workload: str) -> None:
    root = _shared()
    if root is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the shared reference workloads are missing (CI=true)")
        pytest.skip("../shared/bench/agent-platform not found (set MANDATE_SHARED)")
    folder = root / workload
    policies = (folder / "policies.cedar").read_text()
    schema = (folder / "schema.cedarschema").read_text()
    entities = (folder / "entities.json").read_text()
    requests = json.loads((folder / "requests.json").read_text())
    engine = mandate.Engine.from_strings({"policies.cedar": policies}, schema=schema, entities=entities)
    c_schema = cedarpy.Schema.from_str(schema)
    c_policies = cedarpy.PolicySet.from_str(policies)
    c_entities = cedarpy.Entities.from_json_str(entities, schema=c_schema)

    def uid(e: dict) -> str:
        return f'{e["type"]}::{json.dumps(e["id"])}'

    allowed = 0
    for r in requests:
        ctx = r.get("context") or {}
        ours = engine.authorize(
            (r["principal"]["type"], r["principal"]["id"]),
            (r["action"]["type"], r["action"]["id"]),
            (r["resource"]["type"], r["resource"]["id"]),
            ctx,
        )
        theirs = cedarpy.is_authorized(
            {"principal": uid(r["principal"]), "action": uid(r["action"]),
             "resource": uid(r["resource"]), "context": ctx},
            c_policies, c_entities, c_schema,
        )
        assert ours.allowed == theirs.allowed, (r, ours, theirs)
        assert sorted(ours.reasons) == sorted(theirs.diagnostics.reasons), (r, ours, theirs)
        allowed += ours.allowed
    # The workload exercises both outcomes.
    assert 0 < allowed < len(requests)
