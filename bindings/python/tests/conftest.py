"""Shared fixtures: the example agent platform of policies/agent-platform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import mandate

ROOT = Path(__file__).resolve().parents[3]
PLATFORM = ROOT / "policies" / "agent-platform"
POLICIES = PLATFORM / "policies"
SCHEMA = PLATFORM / "schema.cedarschema"
ENTITIES = PLATFORM / "entities.json"

CTX: Dict[str, Any] = {
    "env": "prod",
    "cost_cents": 10,
    "approved": False,
    "now": "2026-11-26T10:00:00Z",
}


def platform_requests() -> List[Dict[str, Any]]:
    data: List[Dict[str, Any]] = json.loads((PLATFORM / "requests.json").read_text())
    return data


@pytest.fixture
def engine() -> mandate.Engine:
    return mandate.Engine.from_dir(POLICIES, schema=SCHEMA, entities=ENTITIES)


def agent(name: str) -> mandate.Entity:
    return mandate.Entity("Platform::Agent", name)


def tool(name: str) -> mandate.Entity:
    return mandate.Entity("Platform::Tool", name)


INVOKE = 'Platform::Action::"InvokeTool"'
