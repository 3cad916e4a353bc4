"""The per-call fast path (tuples, a dict of bool/int/str, no delegation chain, no JSON) decides
exactly as the general path (JSON-typed context), which `on_behalf_of=[]` forces, and leaves every
error to the general path: same exceptions, messages and JSON paths."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import pytest

import mandate


def _workloads() -> Optional[Path]:
    env = os.environ.get("MANDATE_SHARED")
    candidates = [Path(env)] if env else [Path(__file__).resolve().parents[3].parent / "shared"]
    for c in candidates:
        if (c / "bench" / "agent-platform").is_dir():
            return c / "bench" / "agent-platform"
    return None


def _engine(folder: Path, **kw: Any) -> mandate.Engine:
    return mandate.Engine.from_strings(
        {"policies.cedar": (folder / "policies.cedar").read_text()},
        schema=(folder / "schema.cedarschema").read_text(),
        entities=(folder / "entities.json").read_text(),
        **kw,
    )


def _folder() -> Path:
    root = _workloads()
    if root is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the shared reference workloads are missing (CI=true)")
        pytest.skip("../shared/bench/agent-platform not found (set MANDATE_SHARED)")
    return root / "n100"


def _summary(d: mandate.Decision) -> Any:
    return (d.allowed, d.reasons, d.errors)


def test_fast_and_general_paths_decide_alike() -> None:
    folder = _folder()
    engine = _engine(folder)
    for r in json.loads((folder / "requests.json").read_text()):
        p = (r["principal"]["type"], r["principal"]["id"])
        a = (r["action"]["type"], r["action"]["id"])
        res = (r["resource"]["type"], r["resource"]["id"])
        ctx = r.get("context") or {}
        fast = engine.authorize(p, a, res, ctx)
        general = engine.authorize(p, a, res, ctx, on_behalf_of=[])
        assert _summary(fast) == _summary(general), r
        as_strings = engine.authorize(
            f'{p[0]}::"{p[1]}"', f'{a[0]}::"{a[1]}"', f'{res[0]}::"{res[1]}"', ctx
        )
        assert _summary(as_strings) == _summary(fast), r


def _error(engine: mandate.Engine, *args: Any, **kw: Any) -> Any:
    with pytest.raises(mandate.MandateError) as info:
        engine.authorize(*args, **kw)
    diags = getattr(info.value, "diagnostics", None)
    return (type(info.value), str(info.value), json.dumps(diags, sort_keys=True, default=str))


def test_errors_are_the_general_paths() -> None:
    folder = _folder()
    engine = _engine(folder, limits={"max_string_bytes": 30})
    r = json.loads((folder / "requests.json").read_text())[0]
    p = (r["principal"]["type"], r["principal"]["id"])
    a = (r["action"]["type"], r["action"]["id"])
    res = (r["resource"]["type"], r["resource"]["id"])
    ctx = dict(r["context"])
    bad_contexts = [
        {**ctx, "cost": "cheap"},  # a str where the schema wants a Long
        {**ctx, "undeclared": 1},  # not in the schema
        {k: v for k, v in list(ctx.items())[1:]},  # a required attribute missing
        {**ctx, "cost": 2**70},  # not a 64-bit integer
        {**ctx, "cost": 1.5},  # a float
        {**ctx, "x" * 40: 1},  # a key over max_string_bytes
        {**ctx, "cost": "y" * 40},  # a string over max_string_bytes
    ]
    for bad in bad_contexts:
        assert _error(engine, p, a, res, bad) == _error(engine, p, a, res, bad, on_behalf_of=[])
    bad_uids = [
        (("Nope", "x"), a, res),  # a type the action does not apply to
        (p, ("Platform::Action", "nope"), res),  # an undeclared action
        (("1bad", "x"), a, res),  # not a type name
        ((p[0], "z" * 40), a, res),  # an id over max_string_bytes
    ]
    for args in bad_uids:
        assert _error(engine, *args, ctx) == _error(engine, *args, ctx, on_behalf_of=[])
