"""Python per-call overhead of `Engine.authorize` in CPU time (this thread's), for a loaded machine.

`compare_cedarpy.py` measures wall-clock time, which on a busy 2-core machine mostly measures the
scheduler. This script times the same loop (one request per call, entities as tuples, the context
as a dict) with `time.thread_time()`, and the Rust decision time of the same requests as the CPU
time of `NativeEngine._time_decisions(calls, 6)` less that of `(calls, 1)` (so converting the
requests is not counted), best of `rounds` for each.

    bindings/python/.venv/bin/python bindings/python/bench/overhead_cpu.py [rounds] [n10 n100 n1000]

To compare two builds in the same conditions, run it alternately with `PYTHONPATH` pointing at a
copy of the other build's `mandate` package.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, List, Tuple

import mandate

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from compare_cedarpy import shared_dir  # noqa: E402


def measure(workload: str, rounds: int) -> Tuple[float, float]:
    root = shared_dir()
    assert root is not None, "the shared reference workloads are missing (set MANDATE_SHARED)"
    folder = root / "bench" / "agent-platform" / workload
    engine = mandate.Engine.from_strings(
        {"policies.cedar": (folder / "policies.cedar").read_text()},
        schema=(folder / "schema.cedarschema").read_text(),
        entities=(folder / "entities.json").read_text(),
    )
    calls: List[Tuple[Any, ...]] = [
        (
            (r["principal"]["type"], r["principal"]["id"]),
            (r["action"]["type"], r["action"]["id"]),
            (r["resource"]["type"], r["resource"]["id"]),
            r.get("context") or {},
        )
        for r in json.loads((folder / "requests.json").read_text())
    ]
    authorize = engine.authorize
    clock = time.thread_time
    n = len(calls)
    per_call = rust = float("inf")
    for _ in range(rounds):
        start = clock()
        for p, a, r, c in calls:
            authorize(p, a, r, c)
        per_call = min(per_call, (clock() - start) / n)
        start = clock()
        engine._native._time_decisions(calls, 1)
        one = clock() - start
        start = clock()
        engine._native._time_decisions(calls, 6)
        six = clock() - start
        rust = min(rust, (six - one) / 5 / n)
    return per_call * 1e6, rust * 1e6


def main(argv: List[str]) -> int:
    rounds = int(argv[0]) if argv and argv[0].isdigit() else 30
    workloads = [a for a in argv if not a.isdigit()] or ["n10", "n100", "n1000"]
    print(f"{'workload':<10} {'cpu µs/call':>12} {'rust µs':>8} {'overhead µs':>12}")
    for w in workloads:
        per_call, rust = measure(w, rounds)
        print(f"{w:<10} {per_call:>12.2f} {rust:>8.2f} {per_call - rust:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
