//! `mandate demo`: a narrated run over the example agent platform (`policies/agent-platform/`,
//! embedded in the binary so the demo runs anywhere, with no files or services).

use crate::output::out;
use mandate::core::{Decision, is_authorized};
use mandate::{Dialect, ErrorMode, PolicySet, request_from_json};

const SCHEMA: &str = include_str!("../../../policies/agent-platform/schema.cedarschema");
const ENTITIES: &str = include_str!("../../../policies/agent-platform/entities.json");
const REQUESTS: &str = include_str!("../../../policies/agent-platform/requests.json");
const FILES: [(&str, &str); 3] = [
    (
        "access.cedar",
        include_str!("../../../policies/agent-platform/policies/access.cedar"),
    ),
    (
        "guardrails.cedar",
        include_str!("../../../policies/agent-platform/policies/guardrails.cedar"),
    ),
    (
        "limits.mandate",
        include_str!("../../../policies/agent-platform/policies/limits.mandate"),
    ),
];

/// Arguments of `mandate demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {}

fn load_set() -> Result<PolicySet, String> {
    let mut set = PolicySet::new();
    for (name, text) in FILES {
        let dialect = if name.ends_with(".cedar") {
            Dialect::Cedar
        } else {
            Dialect::Mandate
        };
        let parsed = mandate::parse(
            text,
            mandate::ParseOptions {
                dialect,
                ..mandate::ParseOptions::default()
            },
        );
        if parsed.has_errors() {
            return Err(mandate::diagnostics::render_all(
                &parsed.diagnostics,
                Some(&mandate::Source::new(name, text)),
            ));
        }
        set.add_statements(parsed.file.statements)
            .map_err(|d| format!("{d:?}"))?;
    }
    Ok(set)
}

/// Runs the demo; exit status 1 if any decision differs from the scenario's expectation.
pub fn run(_args: &DemoArgs) -> u8 {
    out("Mandate demo: an AI agent platform (policies/agent-platform)\n\n");
    let set = match load_set() {
        Ok(s) => s,
        Err(e) => {
            out(&format!("the example policies do not load:\n{e}\n"));
            return 1;
        }
    };
    let schema = match mandate::load::schema_from_str("schema.cedarschema", SCHEMA, false) {
        Ok(s) => s,
        Err(d) => {
            out(&d.render());
            return 1;
        }
    };
    let entities = match mandate::load::entities_from_str("entities.json", ENTITIES, Some(&schema))
    {
        Ok(e) => e,
        Err(d) => {
            out(&d.render());
            return 1;
        }
    };
    out(&format!(
        "Loaded {} policies and {} quota declarations from {} files, {} entities, a schema with {} entity types and {} actions.\n",
        set.policies().len(),
        set.quotas().len(),
        FILES.len(),
        entities.len(),
        schema.entity_types.len(),
        schema.actions.len()
    ));
    out(
        "(Quotas are parsed and checked today; the engine enforces them in a later milestone.)\n\n",
    );

    out("1. Agents calling what they may, and least privilege\n\n");
    let requests: Vec<serde_json::Value> = serde_json::from_str(REQUESTS).unwrap_or_default();
    let mut mismatches = 0;
    let mut rows = vec![(
        "request".to_string(),
        "decision".to_string(),
        "determined by".to_string(),
    )];
    for r in &requests {
        let desc = r
            .get("description")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_string();
        let expected = r
            .get("decision")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let parsed = match request_from_json(r, Some(&schema)) {
            Ok(p) => p,
            Err(e) => {
                out(&format!("  bad request `{desc}`: {e}\n"));
                mismatches += 1;
                continue;
            }
        };
        let resp = is_authorized(
            &set,
            &parsed.request,
            &entities,
            ErrorMode::DenyOnForbidError,
        );
        let mark = if resp.decision.as_str() == expected {
            ""
        } else {
            "  << UNEXPECTED"
        };
        if !mark.is_empty() {
            mismatches += 1;
        }
        let reasons = if resp.reasons.is_empty() {
            "(no permit: default deny)".to_string()
        } else {
            resp.reasons.join(", ")
        };
        rows.push((
            desc,
            format!("{}{mark}", resp.decision.as_str().to_uppercase()),
            reasons,
        ));
    }
    out(&table(&rows));

    out("\n2. A bad policy change is rejected, with every error located and explained\n\n");
    let bad = "@id(\"let-agents-deploy\")\npermit (\n  principal is Platform::Agent,\n  action == Platform::Action::\"Deploy\",\n  resource\n)\nwhen { principal.trust_level = 3 };\n\n@id(\"prod-only\")\nforbid (principal, action, resource)\nunless { contxt.env == \"prod\" };\n";
    let parsed = mandate::parse(bad, mandate::ParseOptions::default());
    out(&indent(&mandate::diagnostics::render_all(
        &parsed.diagnostics,
        Some(&mandate::Source::new("change.mandate", bad)),
    )));

    out("\n3. A broken guard fails closed\n\n");
    let guard = "permit (principal, action, resource);\n@id(\"block-unapproved\")\nforbid (principal, action, resource) when { context.approval_ticket == \"\" };\n";
    if let Ok(gset) = mandate::load::policies_from_str("guard.mandate", guard, Dialect::Mandate) {
        let req = serde_json::json!({
            "principal": {"type": "Platform::Agent", "id": "triage-bot"},
            "action": {"type": "Platform::Action", "id": "InvokeTool"},
            "resource": {"type": "Platform::Tool", "id": "shell"},
            "context": {}
        });
        if let Ok(p) = request_from_json(&req, None) {
            out(
                "   The forbid reads `context.approval_ticket`, which this request lacks, so it errors.\n",
            );
            for mode in [ErrorMode::Cedar, ErrorMode::DenyOnForbidError] {
                let resp = is_authorized(&gset, &p.request, &entities, mode);
                out(&format!(
                    "   error mode {:<22} -> {:<5} ({})\n",
                    mode.as_str(),
                    resp.decision.as_str().to_uppercase(),
                    if resp.decision == Decision::Allow {
                        "the broken guard silently did nothing"
                    } else {
                        "the broken guard still blocks"
                    }
                ));
            }
        }
    }
    out("\n");
    if mismatches == 0 {
        out("Every decision matched the scenario's expectations.\n");
        0
    } else {
        out(&format!(
            "{mismatches} decision(s) differed from the scenario's expectations.\n"
        ));
        1
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}

fn table(rows: &[(String, String, String)]) -> String {
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let mut s = String::new();
    for (i, (a, b, c)) in rows.iter().enumerate() {
        s.push_str(&format!("   {a:<w0$}  {b:<w1$}  {c}\n"));
        if i == 0 {
            s.push_str(&format!(
                "   {}  {}  {}\n",
                "-".repeat(w0),
                "-".repeat(w1),
                "-".repeat(13)
            ));
        }
    }
    s
}
