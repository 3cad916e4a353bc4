#!/usr/bin/env python3
"""Writes the seed inputs of one fuzz target into a directory (used by fuzz/smoke.sh).

    make_seeds.py TARGET OUT_DIR ROOT SHARED

ROOT is the repository, SHARED the shared folder (its conformance/cedar corpus is read when
present). Multi-part inputs are their parts joined by a NUL byte, in the order the target's
doc comment gives (fuzz_targets/common/mod.rs). The Cedar corpus has about 3,800 generated
tests: a fixed, evenly spaced sample of them is used (with every hand-written test), so that
the seeds take a small share of the test command's fixed run count. Nothing is copied into
the repository: the seeds are rebuilt on every run.
"""

import json
import os
import sys
from pathlib import Path

SEP = b"\0"
# Generated corpus tests taken per target (evenly spaced over the sorted list).
CORPUS_SAMPLE = 240

# Hand-written JSON-format schemas (the Cedar corpus has schemas only in the human format), so
# that the JSON schema reader starts from valid documents.
JSON_SCHEMAS = [
    {
        "App": {
            "commonTypes": {
                "Ctx": {
                    "type": "Record",
                    "attributes": {
                        "ip": {"type": "Extension", "name": "ipaddr"},
                        "score": {"type": "Extension", "name": "decimal", "required": False},
                        "tags": {"type": "Set", "element": {"type": "String"}},
                    },
                }
            },
            "entityTypes": {
                "User": {
                    "memberOfTypes": ["Group"],
                    "shape": {
                        "type": "Record",
                        "attributes": {
                            "age": {"type": "Long"},
                            "manager": {"type": "Entity", "name": "User", "required": False},
                        },
                    },
                    "tags": {"type": "String"},
                },
                "Group": {"annotations": {"doc": "a group"}},
                "Doc": {"enum": ["a", "b"]},
            },
            "actions": {
                "read": {
                    "appliesTo": {
                        "principalTypes": ["User"],
                        "resourceTypes": ["Doc"],
                        "context": {"type": "Ctx"},
                    }
                },
                "write": {"memberOf": [{"id": "read"}]},
            },
        }
    },
    {
        "": {
            "entityTypes": {"A": {}, "B": {"memberOfTypes": ["A"]}},
            "actions": {
                "act": {"appliesTo": {"principalTypes": ["A", "B"], "resourceTypes": ["B"]}}
            },
        }
    },
]


def conformance_tests(shared):
    """(test, base dir) for every Cedar corpus test: the hand-written ones, then a sample."""
    base = shared / "conformance" / "cedar"
    if not base.is_dir():
        print(f"{base} not found; no Cedar corpus seeds", file=sys.stderr)
        return []
    hand = sorted((base / "tests").rglob("*.json"))
    generated = sorted(p for p in (base / "corpus-tests").glob("*.json")
                       if not p.name.endswith(".entities.json"))
    step = max(1, len(generated) // CORPUS_SAMPLE)
    out = []
    for path in hand + generated[::step][:CORPUS_SAMPLE]:
        try:
            test = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(test, dict) and "policies" in test:
            out.append((path.stem, test, base))
    return out


def read(base, rel):
    if not rel:
        return b""
    try:
        return (base / rel).read_bytes()
    except OSError:
        return b""


def first_request(test):
    reqs = test.get("requests") or []
    return json.dumps(reqs[0]).encode() if reqs else b"{}"


def platform(root):
    """The example platform: policies (all files), entities, schema, its first two requests."""
    p = root / "policies" / "agent-platform"
    if not p.is_dir():
        return None
    policies = b"\n".join(f.read_bytes() for f in sorted((p / "policies").glob("*")))
    requests = json.loads((p / "requests.json").read_text())[:2]
    return {
        "policies": policies,
        "entities": (p / "entities.json").read_bytes(),
        "schema": (p / "schema.cedarschema").read_bytes(),
        "requests": [json.dumps(r).encode() for r in requests],
    }


def seeds(target, root, shared):
    """Yields (name, bytes)."""
    tests = conformance_tests(shared)
    plat = platform(root)
    if target == "schema_parse_no_panic":
        for i, s in enumerate(JSON_SCHEMAS):
            yield f"json_schema_{i}", json.dumps(s, indent=1).encode()
        files = sorted(root.glob("crates/*/tests/**/*.cedarschema"))
        files += sorted(root.glob("policies/**/*.cedarschema"))
        for f in files:
            yield "repo__" + str(f.relative_to(root)).replace("/", "__"), f.read_bytes()
        seen = set()
        for name, test, base in tests:
            rel = test.get("schema")
            if rel and rel not in seen:
                seen.add(rel)
                yield "cedar__" + rel.replace("/", "__"), read(base, rel)
    elif target == "entity_request_json_no_panic":
        for i, s in enumerate(JSON_SCHEMAS):
            yield f"json_schema_{i}", json.dumps(s).encode() + SEP + b"[]" + SEP + b"{}"
        if plat:
            for i, r in enumerate(plat["requests"]):
                yield f"platform_{i}", SEP.join([plat["schema"], plat["entities"], r])
        for name, test, base in tests:
            yield "cedar__" + name, SEP.join(
                [read(base, test.get("schema")), read(base, test.get("entities")),
                 first_request(test)])
    elif target == "authorize_no_panic":
        if plat:
            for i, r in enumerate(plat["requests"]):
                yield f"platform_{i}", SEP.join(
                    [plat["policies"], plat["entities"], r, plat["schema"]])
                yield f"platform_noschema_{i}", SEP.join(
                    [plat["policies"], plat["entities"], r])
        for i, (name, test, base) in enumerate(tests):
            parts = [read(base, test.get("policies")), read(base, test.get("entities")),
                     first_request(test)]
            # Half the seeds with the schema (the engine then type-checks), half without.
            if test.get("shouldValidate") and i % 2 == 0:
                parts.append(read(base, test.get("schema")))
            yield "cedar__" + name, SEP.join(parts)
    elif target == "decisions_match_cedar":
        for name, test, base in tests:
            pol, ent = read(base, test.get("policies")), read(base, test.get("entities"))
            for i, r in enumerate((test.get("requests") or [])[:2]):
                yield f"cedar__{name}_{i}", SEP.join([pol, ent, json.dumps(r).encode()])
    elif target == "audit_verify_no_panic":
        # First byte: option bits 0-4, form in bits 5-6 (see the target). Forms 1 and 2 start
        # from a valid log the target writes itself; an empty edit leaves it intact.
        for flags in (0b00000, 0b00111, 0b11111):
            yield f"raw_{flags:05b}", bytes([flags]) + b'{"seq":0}\n'
            yield f"valid_single_{flags:05b}", bytes([0b0100000 | flags])
            yield f"valid_rotated_{flags:05b}", bytes([0b1000000 | flags, 0])
            yield f"files_{flags:05b}", bytes([0b1100000 | flags]) + b"\n" + SEP + b"\n"
        yield "edit_single", bytes([0b0100111, 40, 0, 3]) + b"x"
        yield "edit_rotated", bytes([0b1000111, 1, 10, 0, 1])
    else:
        raise SystemExit(f"make_seeds.py: unknown target {target}")


def main():
    target, out, root, shared = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for name, data in seeds(target, root, shared):
        (out / name).write_bytes(data)
        n += 1
    print(f"seeded {n} inputs for {target} into {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
