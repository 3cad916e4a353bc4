#!/usr/bin/env python3
"""Runs every request of a scenario's requests.json through `mandate authorize --batch` and checks
the expected decision and determining policies. Usage: check_requests.py MANDATE SCENARIO_DIR"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    mandate, scenario = sys.argv[1], Path(sys.argv[2])
    requests = json.loads((scenario / "requests.json").read_text())
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r in requests:
            f.write(json.dumps({k: r[k] for k in ("principal", "action", "resource", "context")}) + "\n")
        batch = f.name
    # The scenario's own policy files only: bad/ and tests/ below it hold examples and fixtures.
    policies = [str(scenario / "policies")]
    cmd = [mandate, "authorize", "--policies", *policies, "--entities", str(scenario / "entities.json"),
           "--schema", str(scenario / "schema.cedarschema"), "--batch", batch]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        return 1
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    failed = 0
    for req, got in zip(requests, results):
        ok = got.get("decision") == req["decision"] and sorted(got.get("reasons", [])) == sorted(req["reason"])
        if not ok:
            failed += 1
            print(f"FAIL {req['description']}: expected {req['decision']} {req['reason']}, got {got}")
    if len(results) != len(requests):
        print(f"FAIL: {len(requests)} requests, {len(results)} results")
        failed += 1
    print(f"{scenario}: {len(requests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
