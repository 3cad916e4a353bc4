"""Decisions per second from Python: `mandate` against `cedarpy` (Cedar's Python binding).

Runs the reference workloads of `../shared/bench/agent-platform/` (or `$MANDATE_SHARED/bench/...`):
the same policies, schema, entities and requests, in the same process and run. Both engines get
their inputs pre-parsed once (cedarpy's `PolicySet`, `Entities` and `Schema` objects), then decide
one request per call, as a tool-call guard does. It also reports the Rust decision time of the
same engine on the same requests (`NativeEngine._time_decisions`), so the Python per-call
overhead is `per call - Rust decision`.

    bindings/python/.venv/bin/python bindings/python/bench/compare_cedarpy.py [n10 n100 n1000]

Decisions are compared too: a disagreement between the two engines is reported and fails the run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import mandate

try:
    import cedarpy
except ImportError:  # pragma: no cover - reported, not hidden
    cedarpy = None


def shared_dir() -> Path | None:
    env = os.environ.get("MANDATE_SHARED")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared"
        if (candidate / "bench").is_dir() and (parent / "Cargo.toml").exists():
            return candidate
    return None


def cedarpy_version() -> str:
    try:
        from importlib.metadata import version

        return version("cedarpy")
    except Exception:  # noqa: BLE001 - only for the report line
        return "not installed"


def uid_text(e: Dict[str, str]) -> str:
    return f'{e["type"]}::{json.dumps(e["id"])}'


def best_of(fn: Callable[[], None], calls: int, repeats: int = 5) -> float:
    """Best (lowest) seconds per call over `repeats` runs of `fn` (which makes `calls` calls):
    the least disturbed run, for both engines alike."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) / calls)
    return min(samples)


def run(folder: Path) -> Dict[str, Any]:
    policies = (folder / "policies.cedar").read_text()
    schema = (folder / "schema.cedarschema").read_text()
    entities_text = (folder / "entities.json").read_text()
    requests = json.loads((folder / "requests.json").read_text())

    engine = mandate.Engine.from_strings(
        {"policies.cedar": policies}, schema=schema, entities=entities_text
    )
    calls: List[Tuple[Any, ...]] = [
        (
            (r["principal"]["type"], r["principal"]["id"]),
            (r["action"]["type"], r["action"]["id"]),
            (r["resource"]["type"], r["resource"]["id"]),
            r.get("context") or {},
        )
        for r in requests
    ]

    def mandate_loop() -> None:
        authorize = engine.authorize
        for p, a, r, c in calls:
            authorize(p, a, r, c)

    m_per_call = best_of(mandate_loop, len(calls))
    rust_ns = engine._native._time_decisions(calls, 20)
    mandate_allowed = [engine.authorize(*c).allowed for c in calls]

    result: Dict[str, Any] = {
        "workload": folder.name,
        "requests": len(calls),
        "mandate_us": m_per_call * 1e6,
        "rust_us": rust_ns / 1e3,
        "overhead_us": m_per_call * 1e6 - rust_ns / 1e3,
    }
    if cedarpy is None:
        result["cedarpy"] = "not installed"
        return result
    c_policies = cedarpy.PolicySet.from_str(policies)
    c_schema = cedarpy.Schema.from_str(schema)
    c_entities = cedarpy.Entities.from_json_str(entities_text, schema=c_schema)
    c_requests = [
        {
            "principal": uid_text(r["principal"]),
            "action": uid_text(r["action"]),
            "resource": uid_text(r["resource"]),
            "context": r.get("context") or {},
        }
        for r in requests
    ]

    def cedar_loop() -> None:
        for req in c_requests:
            cedarpy.is_authorized(req, c_policies, c_entities, c_schema)

    # Cedar's cost grows with the policy count: fewer repeats on the big workloads.
    repeats = 5 if len(policies) < 200_000 else 1
    sample = c_requests if repeats > 1 else c_requests[:200]

    def cedar_sample() -> None:
        for req in sample:
            cedarpy.is_authorized(req, c_policies, c_entities, c_schema)

    c_per_call = best_of(cedar_sample if repeats == 1 else cedar_loop, len(sample), repeats)
    cedar_allowed = [
        cedarpy.is_authorized(req, c_policies, c_entities, c_schema).allowed for req in sample
    ]
    mismatches = sum(1 for a, b in zip(mandate_allowed, cedar_allowed) if a != b)
    result.update(
        cedarpy_us=c_per_call * 1e6,
        ratio=c_per_call / m_per_call,
        compared=len(sample),
        mismatches=mismatches,
    )
    return result


def main(argv: List[str]) -> int:
    root = shared_dir()
    if root is None or not (root / "bench" / "agent-platform").is_dir():
        if os.environ.get("CI") == "true":
            print("FAILED: the shared reference workloads are missing (CI=true)")
            return 1
        print("SKIPPED: ../shared/bench/agent-platform not found (set MANDATE_SHARED)")
        return 0
    names = argv or ["n10", "n100", "n1000"]
    print(f"mandate {mandate.__version__}, cedarpy {cedarpy_version()}")
    print(f"{'workload':<9} {'mandate µs/call':>16} {'rust µs':>8} {'overhead µs':>12} "
          f"{'cedarpy µs/call':>16} {'ratio':>7}")
    failed = False
    for name in names:
        r = run(root / "bench" / "agent-platform" / name)
        cedar = r.get("cedarpy_us")
        print(
            f"{r['workload']:<9} {r['mandate_us']:>16.2f} {r['rust_us']:>8.2f} "
            f"{r['overhead_us']:>12.2f} "
            + (f"{cedar:>16.1f} {r['ratio']:>6.0f}x" if cedar is not None else f"{'n/a':>16}")
        )
        if r.get("mismatches"):
            print(f"  {r['mismatches']} of {r['compared']} decisions differ from cedarpy")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
