"""The engine through Python: decisions as the CLI makes them, lifecycle, delegation, quotas,
reservations, policy versions, errors, check and lint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

import mandate
from conftest import CTX, ENTITIES, INVOKE, PLATFORM, POLICIES, SCHEMA, agent, platform_requests, tool


def _mandate_cli() -> str | None:
    for d in (os.environ.get("CARGO_TARGET_DIR"), str(PLATFORM.parents[1] / "target")):
        if d:
            for profile in ("release", "debug"):
                p = Path(d) / profile / "mandate"
                if p.is_file() and os.access(p, os.X_OK):
                    return str(p)
    return shutil.which("mandate")


# -- decisions ------------------------------------------------------------------------------


def test_requests_json_decisions_match_expectations(engine: mandate.Engine) -> None:
    requests = platform_requests()
    decisions = engine.authorize_many(
        [{k: r[k] for k in ("principal", "action", "resource", "context")} for r in requests]
    )
    assert len(decisions) == len(requests)
    for r, d in zip(requests, decisions):
        assert d.decision == r["decision"], (r["description"], d)
        assert sorted(d.reasons) == sorted(r["reason"]), (r["description"], d)
        assert d.allowed == (r["decision"] == "allow")


def test_decisions_match_the_cli(engine: mandate.Engine, tmp_path: Path) -> None:
    cli = _mandate_cli()
    if cli is None:
        pytest.skip("the mandate CLI is not built")
    requests = platform_requests()
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "".join(
            json.dumps({k: r[k] for k in ("principal", "action", "resource", "context")}) + "\n"
            for r in requests
        )
    )
    proc = subprocess.run(
        [cli, "authorize", "--policies", str(POLICIES), "--entities", str(ENTITIES),
         "--schema", str(SCHEMA), "--batch", str(batch)],
        capture_output=True, text=True, check=True,
    )
    cli_results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    py = [engine.authorize(r["principal"], r["action"], r["resource"], r["context"]) for r in requests]
    for c, d in zip(cli_results, py):
        assert (c["decision"], c["reasons"], c["layer"], c["policy_version"]) == (
            d.decision, d.reasons, d.layer, d.policy_version)


def test_entity_forms_are_equivalent(engine: mandate.Engine) -> None:
    forms = [
        (agent("triage-bot"), mandate.Entity("Platform::Action", "InvokeTool"), tool("ticket-search")),
        (("Platform::Agent", "triage-bot"), ("Platform::Action", "InvokeTool"), ("Platform::Tool", "ticket-search")),
        ('Platform::Agent::"triage-bot"', INVOKE, 'Platform::Tool::"ticket-search"'),
        ({"type": "Platform::Agent", "id": "triage-bot"}, INVOKE, {"__entity": {"type": "Platform::Tool", "id": "ticket-search"}}),
    ]
    for p, a, r in forms:
        d = engine.authorize(p, a, r, CTX)
        assert d.allowed, (p, d)
        assert d.reasons == ["support-agents-use-support-tools"]


def test_decision_fields_and_repr(engine: mandate.Engine) -> None:
    d = engine.authorize(agent("triage-bot"), INVOKE, tool("ticket-search"), CTX)
    assert d.allowed and bool(d) and d.decision == "allow"
    assert d.layer == "quota"  # tool-calls-per-agent applies in prod
    assert d.errors == []
    assert d.policy_version == engine.policy_version and d.policy_version.startswith("sha256:")
    assert d.quota[0]["quota"] == "tool-calls-per-agent" and d.quota[0]["used"] == 0
    assert d.denied_principal is None and d.dry_run is False and len(d.id) == 32
    r = repr(d)
    assert r.startswith("<Decision allow layer=quota reasons=['support-agents-use-support-tools']"), r
    assert "version=" + d.policy_version[7:19] in r
    assert d.to_dict()["decision"] == "allow"
    assert "ALLOW" in d.explain()
    deny = engine.authorize(agent("summarizer"), INVOKE, tool("ticket-search"), CTX)
    assert not deny and repr(deny).startswith("<Decision deny layer=policy reasons=[]")
    assert "default deny" in engine.explain(agent("summarizer"), INVOKE, tool("ticket-search"), CTX)


def test_entity_class() -> None:
    e = mandate.Entity("Platform::Agent", 'we"ird')
    assert e.type == "Platform::Agent" and e.id == 'we"ird'
    assert str(e) == 'Platform::Agent::"we\\"ird"'
    assert mandate.Entity.parse(str(e)) == e
    assert hash(e) == hash(mandate.Entity("Platform::Agent", 'we"ird'))
    assert repr(mandate.Entity("A", "b")) == "Entity('A', 'b')"
    with pytest.raises(mandate.RequestError):
        mandate.Entity.parse("not an entity")


def test_context_values(engine: mandate.Engine) -> None:
    # Entities inside the context, sets, nested records: all through the schema.
    e = mandate.Engine.from_strings(
        '@id("p") permit(principal, action, resource) when { context.who == User::"a" && context.tags.contains("x") && context.n.m == 3 };'
    )
    ok = e.authorize(("User", "a"), 'Action::"go"', ("R", "r"),
                     {"who": mandate.Entity("User", "a"), "tags": {"x", "y"}, "n": {"m": 3}})
    assert ok.allowed, ok
    with pytest.raises(mandate.RequestError, match="64 bits"):
        e.authorize(("User", "a"), 'Action::"go"', ("R", "r"), {"big": 2**70})
    with pytest.raises(mandate.RequestError, match="cannot convert"):
        e.authorize(("User", "a"), 'Action::"go"', ("R", "r"), {"x": object()})


# -- lifecycle, delegation, quotas ------------------------------------------------------------


def test_lifecycle_suspend_resume_revoke(engine: mandate.Engine) -> None:
    bot = agent("triage-bot")
    a = engine.agents.register(bot, ("Platform::Human", "alice"), attributes={"model": "m", "trust_level": 2},
                               parents=[("Platform::Team", "support")], actor="ops", reason="onboard")
    assert a["state"] == {"state": "active"} and a["owner"] == {"type": "Platform::Human", "id": "alice"}
    assert engine.authorize(bot, INVOKE, tool("ticket-search"), CTX).allowed
    engine.agents.suspend(bot, actor="ops", reason="runaway loop")
    d = engine.authorize(bot, INVOKE, tool("ticket-search"), CTX)
    assert not d.allowed and d.layer == "lifecycle" and d.reasons == ["lifecycle:suspended"]
    assert d.denied_principal == 'Platform::Agent::"triage-bot"'
    assert engine.agents.state(bot) == "suspended"
    engine.agents.resume(bot, actor="ops", reason="fixed")
    assert engine.authorize(bot, INVOKE, tool("ticket-search"), CTX).allowed
    engine.agents.revoke(bot, actor="ops", reason="offboarded")
    assert engine.authorize(bot, INVOKE, tool("ticket-search"), CTX).reasons == ["lifecycle:revoked"]
    with pytest.raises(mandate.AgentError, match="revoked"):
        engine.agents.resume(bot)
    with pytest.raises(mandate.AgentError, match="revoked"):
        engine.agents.register(bot, ("Platform::Human", "alice"), attributes={"model": "m", "trust_level": 2})
    got = engine.agents.get(bot)
    assert got is not None
    assert [t["kind"] for t in got["history"]] == ["register", "suspend", "resume", "revoke"]
    assert got["history"][1]["reason"] == "runaway loop"
    assert engine.agents.get(agent("nobody")) is None
    assert [a["id"] for a in engine.agents.list()] == ["triage-bot"]
    with pytest.raises(mandate.AgentError, match="not registered"):
        engine.agents.suspend(agent("nobody"))


def test_agents_must_fit_the_schema(engine: mandate.Engine) -> None:
    with pytest.raises(mandate.AgentError, match="schema"):
        engine.agents.register(agent("new"), ("Platform::Human", "alice"), attributes={"model": 3})


def test_delegation(engine: mandate.Engine) -> None:
    # triage-bot may read alice's onboarding guide; acting for bob it may not (bob owns nothing
    # there), and the denying principal is reported.
    doc = ("Platform::Document", "onboarding-guide")
    read = 'Platform::Action::"ReadDocument"'
    assert engine.authorize(agent("triage-bot"), read, doc, CTX).allowed
    d = engine.authorize(agent("triage-bot"), read, doc, CTX, on_behalf_of=[("Platform::Human", "bob")])
    assert not d.allowed and d.layer == "delegation"
    assert d.denied_principal == 'Platform::Human::"bob"'
    # A single entity is accepted as the chain.
    d2 = engine.authorize(agent("triage-bot"), read, doc, CTX, on_behalf_of=("Platform::Human", "bob"))
    assert d2.layer == "delegation"
    chain = [("Platform::Human", f"h{i}") for i in range(5)]
    assert engine.authorize(agent("triage-bot"), read, doc, CTX, on_behalf_of=chain).reasons == ["delegation:too-long"]


def test_quota_limit_reached_denies_with_quota_info(engine: mandate.Engine) -> None:
    call = 'Platform::Action::"CallModel"'
    model = ("Platform::Model", "frontier")
    ctx = dict(CTX, cost_cents=4000)
    assert engine.authorize(agent("triage-bot"), call, model, ctx).allowed
    d = engine.authorize(agent("triage-bot"), call, model, dict(CTX, cost_cents=2000))
    assert not d.allowed and d.layer == "quota"
    assert d.reasons == ["daily-model-spend-per-owner"]
    q = d.quota[0]
    assert (q["quota"], q["limit"], q["used"], q["cost"], q["admitted"]) == (
        "daily-model-spend-per-owner", 5000, 4000, 2000, False)
    assert q["retry_after_ms"] > 0
    assert "quota='daily-model-spend-per-owner':4000/5000" in repr(d)
    status = engine.quota_status(agent("triage-bot"))
    spend = [s for s in status if s["quota"] == "daily-model-spend-per-owner"][0]
    assert spend["status"]["used"] == 4000 and spend["window"] == "1d"
    # A dry run charges nothing.
    assert engine.authorize(agent("triage-bot"), call, model, dict(CTX, cost_cents=1000), dry_run=True).dry_run


def test_settle_and_refund(engine: mandate.Engine) -> None:
    call = 'Platform::Action::"CallModel"'
    model = ("Platform::Model", "frontier")
    d = engine.authorize(agent("triage-bot"), call, model, dict(CTX, cost_cents=4500), reserve=True)
    assert d.allowed
    assert not engine.authorize(agent("triage-bot"), call, model, dict(CTX, cost_cents=1000)).allowed
    s = engine.settle(d.id, 500)
    assert s == {"reservation": d.id, "reserved": 4500, "actual": 500}
    assert engine.authorize(agent("triage-bot"), call, model, dict(CTX, cost_cents=1000)).allowed
    with pytest.raises(mandate.StoreError, match="already settled"):
        engine.settle(d.id, 1)
    d2 = engine.authorize(agent("triage-bot"), call, model, dict(CTX, cost_cents=3000), reserve=True)
    assert engine.refund(d2.id)["actual"] == 0
    with pytest.raises(mandate.StoreError, match="unknown reservation"):
        engine.refund("no-such-decision")


def test_state_dir_persists(tmp_path: Path) -> None:
    def build() -> mandate.Engine:
        return mandate.Engine.from_dir(POLICIES, schema=SCHEMA, entities=ENTITIES, state_dir=tmp_path)

    e = build()
    e.agents.register(agent("triage-bot"), ("Platform::Human", "alice"),
                      attributes={"model": "m", "trust_level": 2})
    e.agents.suspend(agent("triage-bot"))
    del e
    import gc
    gc.collect()
    e2 = build()
    assert e2.authorize(agent("triage-bot"), INVOKE, tool("ticket-search"), CTX).reasons == ["lifecycle:suspended"]


def test_audit_callback_receives_every_decision() -> None:
    records: List[Dict[str, Any]] = []
    e = mandate.Engine.from_strings("permit(principal, action, resource);", audit=records.append)
    d = e.authorize(("User", "a"), 'Action::"go"', ("R", "r"))
    assert any(r.get("kind") == "decision" and r.get("decision_id") == d.id for r in records)

    def broken(_: Dict[str, Any]) -> None:
        raise OSError("disk full")

    e2 = mandate.Engine.from_strings("permit(principal, action, resource);", audit=broken)
    d2 = e2.authorize(("User", "a"), 'Action::"go"', ("R", "r"))
    assert not d2.allowed and d2.reasons == ["audit:unavailable"]  # no allow without its record
    assert e2.audit_failures >= 1


# -- versions -----------------------------------------------------------------------------------


def test_reload_and_rollback(tmp_path: Path) -> None:
    pol = tmp_path / "p.cedar"
    pol.write_text('@id("open") permit(principal, action, resource);\n')
    e = mandate.Engine.from_dir(tmp_path)
    v1 = e.policy_version
    assert e.authorize(("U", "a"), 'Action::"x"', ("R", "r")).allowed
    pol.write_text('@id("closed") forbid(principal, action, resource);\n@id("open") permit(principal, action, resource);\n')
    v2 = e.reload(actor="ci", reason="tighten", reference="git:abc")
    assert v2 != v1 and e.policy_version == v2
    d = e.authorize(("U", "a"), 'Action::"x"', ("R", "r"))
    assert not d.allowed and d.reasons == ["closed"] and d.policy_version == v2
    assert e.rollback() == v1
    assert e.authorize(("U", "a"), 'Action::"x"', ("R", "r")).allowed
    with pytest.raises(mandate.PolicyError, match="no earlier policy version"):
        e.rollback()
    # A broken reload keeps the running version and reports diagnostics.
    pol.write_text("permit(principal, action, resource) when { 1 + };\n")
    with pytest.raises(mandate.PolicyError) as info:
        e.reload()
    assert e.policy_version == v1
    assert info.value.diagnostics and info.value.diagnostics[0]["file"].endswith("p.cedar")
    v3 = e.reload_policies({"x.mandate": '@id("only") forbid(principal, action, resource);'})
    assert e.authorize(("U", "a"), 'Action::"x"', ("R", "r")).reasons == ["only"]
    assert [v["id"] for v in e.versions()][-1] == v3


# -- errors -------------------------------------------------------------------------------------


def test_policy_error_has_diagnostics_and_snippet() -> None:
    with pytest.raises(mandate.PolicyError) as info:
        mandate.Engine.from_strings({"bad.mandate": "permit(principal, action, resource) when { 1 + };"})
    err = info.value
    assert isinstance(err, mandate.MandateError)
    assert "bad.mandate" in str(err) and "1 +" in str(err)  # the rendered snippet
    d = err.diagnostics[0]
    assert d["severity"] == "error" and d["code"].startswith("MD")
    assert d["file"] == "bad.mandate" and d["line"] == 1 and isinstance(d["column"], int)
    assert "1 +" in d["rendered"]


def test_type_errors_reject_the_set_when_validating() -> None:
    schema = "entity User { level: Long }; entity Doc; action read appliesTo { principal: [User], resource: [Doc] };"
    bad = "permit(principal is User, action, resource) when { principal.levl > 1 };"
    with pytest.raises(mandate.PolicyError, match="levl"):
        mandate.Engine.from_strings(bad, schema=schema)
    mandate.Engine.from_strings(bad, schema=schema, validate=False)


def test_request_errors(engine: mandate.Engine) -> None:
    with pytest.raises(mandate.RequestError) as info:
        engine.authorize(agent("triage-bot"), 'Platform::Action::"InvokeTol"', tool("ticket-search"), CTX)
    assert "InvokeTool" in str(info.value)  # did you mean
    assert info.value.diagnostics[0]["code"] == "MD0060"
    with pytest.raises(mandate.RequestError, match="must be an entity"):
        engine.authorize(42, INVOKE, tool("x"), CTX)  # type: ignore[arg-type]
    with pytest.raises(mandate.RequestError):
        engine.authorize(agent("triage-bot"), INVOKE, tool("ticket-search"), {"env": 3})
    with pytest.raises(mandate.RequestError, match="request 1"):
        engine.authorize_many([(agent("a"), INVOKE, tool("t"), CTX), {"principal": agent("a")}])
    with pytest.raises(ValueError, match="error_mode"):
        mandate.Engine.from_strings("", error_mode="lenient")


def test_missing_files_raise_policy_error(tmp_path: Path) -> None:
    with pytest.raises(mandate.PolicyError, match="does not exist"):
        mandate.Engine.from_dir(tmp_path / "nope")
    with pytest.raises(mandate.PolicyError):
        mandate.Engine.from_dir(POLICIES, schema=tmp_path / "missing.cedarschema")


def test_a_rust_panic_becomes_internal_error() -> None:
    from mandate import _native

    with pytest.raises(mandate.InternalError, match="deliberate panic"):
        _native._panic_for_tests()


# -- check and lint -----------------------------------------------------------------------------


def test_check_clean_and_broken(tmp_path: Path) -> None:
    assert [d for d in mandate.check(POLICIES, schema=SCHEMA) if d["severity"] == "error"] == []
    bad = tmp_path / "bad.cedar"
    bad.write_text("permit(principal, action, resource) when { principal.nope };\npermit(;\n")
    diags = mandate.check([bad])
    assert diags and diags[0]["file"] == str(bad) and diags[0]["line"] == 2
    assert set(diags[0]) >= {"code", "severity", "message", "file", "line", "column", "help"}


def test_lint_finds_the_bad_examples() -> None:
    bad = PLATFORM / "bad" / "unconstrained_permit_bad.cedar"
    codes = {d["code"] for d in mandate.lint(bad, schema=SCHEMA)}
    assert any(c.startswith("MDL") for c in codes), codes
    clean = mandate.lint(POLICIES, schema=SCHEMA, config=PLATFORM / "mandate.toml")
    assert [d for d in clean if d["severity"] == "error"] == []
