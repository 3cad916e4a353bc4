//! The decision index must not change any decision: for generated policy sets (every scope form,
//! templates linked to random entities), entity graphs and requests, the indexed authorizer and
//! the evaluate-everything authorizer return identical responses (decision, reasons, errors, in
//! order).

use mandate_eval::request::request_from_json;
use mandate_eval::{Entities, ErrorMode, PolicySet, Uid, is_authorized, is_authorized_unindexed};
use mandate_syntax::{ParseOptions, parse};
use proptest::prelude::*;

const TYPES: [&str; 3] = ["U", "G", "NS::R"];
const IDS: [&str; 4] = ["a", "b", "c", "d"];
const ACTIONS: [&str; 4] = ["read", "write", "readGroup", "all"];

fn entity() -> impl Strategy<Value = (usize, usize)> {
    (0..TYPES.len(), 0..IDS.len())
}

fn uid_text((t, i): (usize, usize)) -> String {
    format!(
        "{}::\"{}\"",
        TYPES.get(t).copied().unwrap_or("U"),
        IDS.get(i).copied().unwrap_or("a")
    )
}

fn entity_scope(var: &'static str, slot: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(var.to_string()),
        entity().prop_map(move |e| format!("{var} == {}", uid_text(e))),
        entity().prop_map(move |e| format!("{var} in {}", uid_text(e))),
        (0..TYPES.len())
            .prop_map(move |t| format!("{var} is {}", TYPES.get(t).copied().unwrap_or("U"))),
        (0..TYPES.len(), entity()).prop_map(move |(t, e)| format!(
            "{var} is {} in {}",
            TYPES.get(t).copied().unwrap_or("U"),
            uid_text(e)
        )),
        Just(format!("{var} == {slot}")),
        Just(format!("{var} in {slot}")),
    ]
}

fn action_scope() -> impl Strategy<Value = String> {
    let a = |i: usize| format!("Action::\"{}\"", ACTIONS.get(i).copied().unwrap_or("read"));
    prop_oneof![
        Just("action".to_string()),
        (0..ACTIONS.len()).prop_map(move |i| format!("action == {}", a(i))),
        (0..ACTIONS.len()).prop_map(move |i| format!("action in {}", a(i))),
        proptest::collection::vec(0..ACTIONS.len(), 0..3).prop_map(move |v| format!(
            "action in [{}]",
            v.into_iter().map(a).collect::<Vec<_>>().join(", ")
        )),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" when { true }".to_string()),
        Just(" when { false }".to_string()),
        Just(" when { context.flag }".to_string()),
        Just(" unless { context.flag }".to_string()),
        Just(" when { principal.level > 1 }".to_string()),
        Just(" when { resource has owner && resource.owner == principal }".to_string()),
    ]
}

fn policy() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        entity_scope("principal", "?principal"),
        action_scope(),
        entity_scope("resource", "?resource"),
        condition(),
    )
        .prop_map(|(permit, p, a, r, c)| {
            format!(
                "{} ({p}, {a}, {r}){c};",
                if permit { "permit" } else { "forbid" }
            )
        })
}

fn entities_json(parents: &[(usize, usize, usize, usize)], levels: &[i64]) -> String {
    let mut items = Vec::new();
    for t in 0..TYPES.len() {
        for i in 0..IDS.len() {
            let ps: Vec<String> = parents
                .iter()
                .filter(|(ct, ci, _, _)| *ct == t && *ci == i)
                .filter(|(ct, ci, pt, pi)| (pt, pi) < (ct, ci)) // parents sort earlier: no cycles
                .map(|(_, _, pt, pi)| {
                    format!(
                        "{{\"type\": \"{}\", \"id\": \"{}\"}}",
                        TYPES.get(*pt).copied().unwrap_or("U"),
                        IDS.get(*pi).copied().unwrap_or("a")
                    )
                })
                .collect();
            let level = levels.get(t * IDS.len() + i).copied().unwrap_or(0);
            items.push(format!(
                "{{\"uid\": {{\"type\": \"{}\", \"id\": \"{}\"}}, \"attrs\": {{\"level\": {level}, \"owner\": {{\"__entity\": {{\"type\": \"U\", \"id\": \"a\"}}}}}}, \"parents\": [{}]}}",
                TYPES.get(t).copied().unwrap_or("U"),
                IDS.get(i).copied().unwrap_or("a"),
                ps.join(", ")
            ));
        }
    }
    // Action groups: `readGroup` and `all` contain `read`; `all` contains `write`.
    items.push(r#"{"uid": {"type": "Action", "id": "read"}, "attrs": {}, "parents": [{"type": "Action", "id": "readGroup"}, {"type": "Action", "id": "all"}]}"#.into());
    items.push(r#"{"uid": {"type": "Action", "id": "write"}, "attrs": {}, "parents": [{"type": "Action", "id": "all"}]}"#.into());
    format!("[{}]", items.join(",\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]
    #[test]
    fn indexed_and_unindexed_decisions_agree(
        policies in proptest::collection::vec(policy(), 1..12),
        parents in proptest::collection::vec((0..3usize, 0..4usize, 0..3usize, 0..4usize), 0..12),
        levels in proptest::collection::vec(0..3i64, 12),
        links in proptest::collection::vec((entity(), entity()), 0..3),
        requests in proptest::collection::vec((entity(), 0..ACTIONS.len(), entity(), any::<Option<bool>>()), 1..6),
        missing_principal in any::<bool>(),
    ) {
        let src = policies.iter().enumerate().map(|(i, p)| format!("@id(\"p{i}\") {p}")).collect::<Vec<_>>().join("\n");
        let parsed = parse(&src, ParseOptions::default());
        prop_assert!(!parsed.has_errors(), "{src}\n{:?}", parsed.diagnostics);
        let mut set = PolicySet::new();
        prop_assert!(set.add_statements(parsed.file.statements).is_ok());
        let templates: Vec<String> = set.templates().map(|t| t.id.to_string()).collect();
        for (n, t) in templates.iter().enumerate() {
            for (k, (p, r)) in links.iter().enumerate() {
                let stmt = set.templates().find(|s| s.id == t.as_str()).cloned();
                let Some(stmt) = stmt else { continue };
                let pu = stmt.principal.slot().map(|_| Uid::new(TYPES.get(p.0).copied().unwrap_or("U"), IDS.get(p.1).copied().unwrap_or("a")));
                let ru = stmt.resource.slot().map(|_| Uid::new(TYPES.get(r.0).copied().unwrap_or("U"), IDS.get(r.1).copied().unwrap_or("a")));
                let link_id = format!("link{n}_{k}");
                prop_assert!(set.link(t, &link_id, pu, ru).is_ok());
            }
        }
        let entities = Entities::from_json_str(&entities_json(&parents, &levels), None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (p, a, r, flag) in &requests {
            let principal_id = if missing_principal { "zz" } else { IDS.get(p.1).copied().unwrap_or("a") };
            let mut req = serde_json::json!({
                "principal": {"type": TYPES.get(p.0).copied().unwrap_or("U"), "id": principal_id},
                "action": {"type": "Action", "id": ACTIONS.get(*a).copied().unwrap_or("read")},
                "resource": {"type": TYPES.get(r.0).copied().unwrap_or("U"), "id": IDS.get(r.1).copied().unwrap_or("a")},
                "context": {}
            });
            if let (Some(f), Some(ctx)) = (flag, req.get_mut("context").and_then(serde_json::Value::as_object_mut)) {
                ctx.insert("flag".into(), serde_json::Value::Bool(*f));
            }
            let parsed = request_from_json(&req, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for mode in [ErrorMode::Cedar, ErrorMode::DenyOnForbidError] {
                let fast = is_authorized(&set, &parsed.request, &entities, mode);
                let slow = is_authorized_unindexed(&set, &parsed.request, &entities, mode);
                prop_assert_eq!(&fast, &slow, "policies:\n{}\nrequest: {}", src, req);
            }
        }
    }
}
