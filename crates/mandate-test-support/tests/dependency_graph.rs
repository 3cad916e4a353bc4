//! The dependency graph is the architecture (docs/ARCHITECTURE.md): `mandate-syntax` depends on
//! no other `mandate-*` crate; validate → syntax; eval → syntax, validate; the facade → the three;
//! the CLI and the benches → the facade only. This test reads every member's `[dependencies]`
//! and fails on an edge not in that list.

use mandate_test_support::workspace_root;

fn mandate_deps(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            if name.starts_with("mandate") {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn crate_dependencies_follow_the_architecture() -> Result<(), String> {
    let allowed: &[(&str, &[&str])] = &[
        ("crates/mandate-syntax", &[]),
        ("crates/mandate-validate", &["mandate-syntax"]),
        (
            "crates/mandate-eval",
            &["mandate-syntax", "mandate-validate"],
        ),
        ("crates/mandate-quota", &[]),
        ("crates/mandate-agents", &[]),
        ("crates/mandate-audit", &[]),
        (
            "crates/mandate",
            &[
                "mandate-eval",
                "mandate-syntax",
                "mandate-validate",
                "mandate-quota",
                "mandate-agents",
                "mandate-audit",
            ],
        ),
        ("crates/mandate-cli", &["mandate"]),
        ("crates/mandate-test-support", &[]),
        ("benches", &["mandate"]),
    ];
    let root = workspace_root();
    for (dir, ok) in allowed {
        let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml"))
            .map_err(|e| format!("{dir}: {e}"))?;
        for dep in mandate_deps(&manifest) {
            if !ok.contains(&dep.as_str()) {
                return Err(format!(
                    "{dir} depends on {dep}, which docs/ARCHITECTURE.md does not allow"
                ));
            }
        }
    }
    // Every workspace member is covered.
    let crates = std::fs::read_dir(root.join("crates")).map_err(|e| e.to_string())?;
    for entry in crates.flatten() {
        let name = format!("crates/{}", entry.file_name().to_string_lossy());
        if !allowed.iter().any(|(d, _)| *d == name) {
            return Err(format!(
                "{name} is not in the dependency table of this test"
            ));
        }
    }
    Ok(())
}
